"""IAM action wildcards (`*` any run, `?` one character, any letter case) matched against one
service's action names, sorted and lower-cased, mostly without a regex.

Every match of a name pattern starts with its fixed head (the part before the first wildcard),
so the candidates are one contiguous run of the sorted names, found by bisection: `Get*` is that
run itself; a `*`-only pattern (`*Tags`, `Describe*Instance*s`) is checked with str.find over the
run's names joined by newlines; only a pattern with `?` compiles a regex. The name part of a
pattern with a wildcard in its service part is matched against every action name at once by
`LineBits`, and a statement's many such patterns together (`LineBits.match_many`). One name
outside the catalog is judged against many patterns by `name_fits`, with no regex to compile
per pattern.

Every regex built here runs in time linear in the text for a given pattern: a naive translation
(`*` -> `.*`) backtracks over every way to split a name when its tail cannot match, which grows
exponentially with the number of `*?` pairs. Here each part between two `*`s is found at its
leftmost place inside an atomic group and never revisited: leftmost is always safe, because a
part found earlier leaves more room for the parts after it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter

from grantguard.scoring import budget

WILDCARDS = frozenset("*?")
SMALL_RUN = 16  # candidate names checked one by one rather than scanned for

# A service's names as one text, each followed by a newline, and where each line starts (plus
# the end of the text, so line i is text[starts[i]:starts[i + 1]]); built on first need.
ServiceText = tuple[str, list[int]]


def has_wildcard(text: str) -> bool:
    return not WILDCARDS.isdisjoint(text)


def service_wildcard(pattern: str) -> bool:
    """Whether a lower-cased pattern has a wildcard in its service part (`*`, `s3*:Get*`)."""
    prefix, sep, _ = pattern.partition(":")
    return pattern == "*" or (bool(sep) and has_wildcard(prefix))


def simplified(pattern: str) -> str:
    """The same pattern with each run of wildcards holding a `*` written as its `?`s then one
    `*` (`*?*?` matches what `??*` matches): fewer parts to match, smaller regexes."""
    if "*" not in pattern or ("**" not in pattern and "*?" not in pattern):
        return pattern
    return _WILDCARD_RUN.sub(_shortest_run, pattern)


_WILDCARD_RUN = re.compile(r"[*?]+")  # maximal runs: never backtracks


def _shortest_run(run: re.Match[str]) -> str:
    text = run.group()
    return "?" * text.count("?") + "*" if "*" in text else text


def linear_regex(pattern: str, any_char: str) -> str:
    """Regex source for an IAM wildcard pattern that never backtracks into a matched part:
    head, then each middle part leftmost in an atomic group, then any run and the tail.
    `any_char` is what `?` and the runs of `*` may consume (`.` or `[^\n]`)."""
    segments = simplified(pattern).split("*")

    def literal(part: str) -> str:
        return "".join(any_char if c == "?" else re.escape(c) for c in part)

    if len(segments) == 1:
        return literal(pattern)
    run = f"{any_char}*"
    middles = "".join(f"(?>{run}?{literal(part)})" for part in segments[1:-1] if part)
    return f"{literal(segments[0])}{middles}{run}{literal(segments[-1])}"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for an IAM wildcard pattern (`*` any run, `?` one character), case-insensitive,
    to use with fullmatch; linear in the name."""
    return re.compile(linear_regex(pattern, "."), re.IGNORECASE | re.DOTALL)


_NOT_NEWLINE = "[^\n]"


@lru_cache(maxsize=1024)
def _line_glob(pattern: str) -> re.Pattern[str]:
    """A multi-line regex matching whole lines that fit an IAM wildcard pattern."""
    return re.compile(f"(?m)^{linear_regex(pattern, _NOT_NEWLINE)}$")


def glob_match(pattern: str, name: str) -> bool:
    """Whether a lower-cased name fits a lower-cased IAM wildcard pattern (linear in the name)."""
    return _line_glob(pattern).fullmatch(name) is not None


def name_fits(pattern: str, name: str) -> bool:
    """Whether one lower-cased name fits a lower-cased pattern, as `glob_regex` would say
    (any character, `:` too, for `*` and `?`), without compiling a regex: the positions of
    the name still reachable are the bits of a small int, a few operations per pattern
    character. ASCII only: for other text glob_regex's IGNORECASE folds more than lower()."""
    chars = _positions(name)
    size = len(name)
    inside = (1 << size) - 1  # positions that hold a character; bit `size` is the end
    everywhere = inside | 1 << size
    state = 1
    for token in simplified(pattern):
        if token == "*":
            state = everywhere ^ ((state & -state) - 1)  # the lowest position and all after it
        elif token == "?":
            state = (state & inside) << 1
        else:
            state = (state & chars.get(token, 0)) << 1
        if not state:
            return False
    return state >> size & 1 == 1


@lru_cache(maxsize=256)
def _positions(name: str) -> dict[str, int]:
    """Each character of a name and the positions holding it, as bits (one name is judged
    against many patterns)."""
    chars: dict[str, int] = {}
    for position, char in enumerate(name):
        chars[char] = chars.get(char, 0) | 1 << position
    return chars


def clear_caches() -> None:
    _line_glob.cache_clear()
    _positions.cache_clear()


def service_text(names: tuple[str, ...]) -> ServiceText:
    text = "\n".join(names) + "\n"
    # Line i + 1 starts one past the end of line i: running sums of len + 1, all in C.
    starts = list(accumulate(map((1).__add__, map(len, names)), initial=0))
    return text, starts


def run_of(names: tuple[str, ...], head: str) -> tuple[int, int]:
    """The positions lo..hi of the sorted names that start with `head`."""
    lo = bisect_left(names, head)
    return lo, bisect_left(names, head + "\U0010ffff", lo)


def match_names(names: tuple[str, ...], name: str, text: Callable[[], ServiceText]) -> int:
    """Bitset (bit i for names[i]) of the names a lower-cased name pattern matches; `text`
    gives the names as a ServiceText when a scan needs it."""
    if name == "*":
        return (1 << len(names)) - 1
    if "\n" in name:  # no name holds one; in a pattern it would match across lines
        return 0
    head = name.split("*", 1)[0].split("?", 1)[0]
    if head == name:  # no wildcard: one exact name
        i = bisect_left(names, name)
        return 1 << i if i < len(names) and names[i] == name else 0
    lo, hi = run_of(names, head)
    if lo == hi:
        return 0
    if "?" in name:
        return _glob_lines(name, text(), lo, hi)
    segments = name.split("*")
    tail = segments[-1]
    middles = [part for part in segments[1:-1] if part]
    if not tail and not middles:  # `Get*`, `Get**`: the whole run
        return ((1 << (hi - lo)) - 1) << lo
    local = 0
    if hi - lo <= SMALL_RUN:
        for i in range(lo, hi):
            if _fits(names[i], head, tail, middles):
                local |= 1 << i
        return local
    # Candidate lines hold the tail at their end, or else the longest middle part.
    full, starts = text()
    finder = f"{tail}\n" if tail else max(middles, key=len)
    end = starts[hi]
    found = full.find(finder, starts[lo], end)
    while found != -1:
        line = bisect_right(starts, found) - 1
        if _fits(names[line], head, tail, middles):
            local |= 1 << line
        found = full.find(finder, starts[line + 1], end)
    return local


def _fits(name: str, head: str, tail: str, middles: list[str]) -> bool:
    """Whether `name` fits the `*`-only pattern head*middle*...*tail (leftmost matching of
    each middle part is exact for `*`-only globs)."""
    if len(name) < len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    position, end = len(head), len(name) - len(tail)
    for part in middles:
        position = name.find(part, position, end)
        if position == -1:
            return False
        position += len(part)
    return True


def _glob_lines(name: str, text: ServiceText, lo: int, hi: int) -> int:
    """Lines lo..hi that fit a pattern with `?` (rare): one regex scan over the run."""
    full, starts = text
    local = 0
    for found in _line_glob(name).finditer(full, starts[lo], starts[hi]):
        local |= 1 << (bisect_right(starts, found.start()) - 1)
    return local


# Letters by how rarely they occur in action names (rarest first): the part of a pattern to
# search for is the longest literal, and among equally long ones the one with the rarest letter.
_RARE_FIRST = "qjzxkvwy0123456789_.-bfhgmpuldcnsroitae"


def find_lines(pattern: str, text: ServiceText) -> list[int]:
    """The lines of `text` that fit a lower-cased pattern, in one pass over the whole text:
    str.find jumps to the lines holding the pattern's most selective literal part, and only
    those lines are matched (linearly) against the whole pattern."""
    if "\n" in pattern:  # no name holds one; in a pattern it would match across lines
        return []
    full, starts = text
    line_glob = _line_glob(pattern)
    parts = [part for part in re.split(r"[*?]", pattern) if part and part != ":"]
    if not parts:  # nothing to search for: one linear regex scan over every line
        last = len(starts) - 2  # the empty "line" after the final newline is no name
        every = (bisect_right(starts, m.start()) - 1 for m in line_glob.finditer(full))
        return [line for line in every if line <= last]
    finder = max(parts, key=lambda part: (len(part), -min(map(_rarity, part))))
    lines: list[int] = []
    end = len(full)
    found = full.find(finder)
    while found != -1:
        line = bisect_right(starts, found) - 1
        if line_glob.match(full, starts[line]):
            lines.append(line)
        found = full.find(finder, starts[line + 1], end)
    return lines


def _rarity(char: str) -> int:
    position = _RARE_FIRST.find(char)
    return position if position != -1 else len(_RARE_FIRST)  # `:`: on every line


_LANE = 8  # every line is padded at its start so that its newline is the top bit of a byte
_PAD = "\0"
MEMO_DEPTH = 48  # pattern characters whose states `match_many` keeps (each state ~90 KB)
_TOP_BIT_DIGITS = bytes.maketrans(b"\x00\x80", b"01")


class LineBits:
    """Many names matched against one pattern at once, bit-parallel: bit p of an int stands for
    position p of the names' text, so one step of the pattern is a few operations on ints as
    wide as the whole catalog (microseconds each), whatever the pattern and however many
    names match. The cost is a few operations per pattern character, never a pass per name.

    The state is the set of positions where the next character is read; a literal keeps the
    positions holding it and moves them on by one, `?` any name character, and `*` extends each
    position to the end of its line by one carry-propagating addition.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        # Tables by name length, then C loops (a fresh process pays for this): each name gets
        # -(len + 1) % 8 pads, and its line (pads, name, newline) fills whole bytes.
        lengths = list(map(len, names))
        sizes = range(max(lengths, default=0) + 1)
        pads = [_PAD * (-(size + 1) % _LANE) for size in sizes]
        line_bytes = [(size + 1 + len(pads[size])) // _LANE for size in sizes]
        padded = list(map(str.__add__, map(pads.__getitem__, lengths), names))
        text = "\n".join(padded) + "\n"
        self._reversed = text.encode()[::-1]  # lowest position last, as int(..., 2) reads
        self._chars: dict[str, int] = {}
        self._newline = self._char("\n")
        everything = (1 << len(text)) - 1
        self._inline = everything ^ self._newline ^ self._char(_PAD)
        self._first = self._inline & ~(self._inline << 1)  # the first character of each name
        self._bytes = len(text) // _LANE
        # the byte holding each line's newline
        newline_bytes = list(accumulate(map(line_bytes.__getitem__, lengths), initial=-1))[1:]
        self._newline_bytes = newline_bytes
        self._pick = itemgetter(*reversed(newline_bytes))  # the last name first
        self._single = len(names) == 1

    def _char(self, char: str) -> int:
        """Positions holding `char`, built on first need."""
        bits = self._chars.get(char)
        if bits is None:
            table = bytearray(b"0" * 256)
            if char.isascii():
                table[ord(char)] = ord("1")
            bits = self._chars[char] = int(self._reversed.translate(table), 2)
        return bits

    def match(self, pattern: str) -> int:
        """Bitset (bit i for name i) of the names a lower-cased pattern matches."""
        hits = self._ends(self._first, simplified(pattern)) if _matchable(pattern) else 0
        return self.lines(hits)

    def lines_mask(self, spans: Iterable[tuple[int, int]]) -> int:
        """The newline positions of lines lo..hi-1 for each (lo, hi): a filter for `match_many`.
        Every line fills whole bytes, so each span is one slice of a byte buffer."""
        buffer = bytearray(self._bytes)
        ends = self._newline_bytes
        for lo, hi in spans:
            start, stop = ends[lo - 1] + 1 if lo else 0, ends[hi - 1] + 1
            buffer[start:stop] = b"\xff" * (stop - start)
        return int.from_bytes(buffer, "little") & self._newline

    def match_many(
        self, patterns: Sequence[str], within: Sequence[int | None] | None = None
    ) -> tuple[int, list[bool]]:
        """Bitset of the names any of the lower-cased patterns matches, and whether each one
        matches a name: the union of `match` over the patterns, at a fraction of the cost.

        Only the union becomes a bitset of names (once, not per pattern, and no per-pattern
        popcount), and the patterns are walked in sorted order, each starting from the state
        its longest shared prefix with the one before it left (up to MEMO_DEPTH characters):
        floods of distinct patterns share most steps (`*:*a*b*c*`, `*:*a*b*d*`, ...).
        `within[k]`, when given and not None, keeps pattern k to some lines (`lines_mask`)."""
        matched = [False] * len(patterns)
        forms = [simplified(pattern) for pattern in patterns]
        path: list[str] = []  # the characters whose states are kept: states[i] follows path[:i]
        states = [self._first]
        union = 0
        for k in sorted(range(len(forms)), key=forms.__getitem__):
            budget.check()  # as `_expand` does once per pattern it matches
            form = forms[k]
            if not _matchable(form):
                continue
            # The states kept stop before a final `*` and the character before it, which
            # `_ends` takes in one step.
            tail = 0 if not form.endswith("*") else 1 if form[-2:-1] in ("", "*") else 2
            body = form[: len(form) - tail]
            shared, limit = 0, min(len(path), len(body))
            while shared < limit and path[shared] == body[shared]:
                shared += 1
            del path[shared:]
            del states[shared + 1 :]
            state, position, stop = states[shared], shared, min(len(body), MEMO_DEPTH)
            while state and position < stop:
                state = self._step(state, body[position])
                path.append(body[position])
                states.append(state)
                position += 1
            hits = self._ends(state, form[stop:]) if state else 0
            if hits and within is not None:
                lines = within[k]
                hits = hits if lines is None else hits & lines
            if hits:
                matched[k] = True
                union |= hits
        return self.lines(union), matched

    def _step(self, state: int, token: str) -> int:
        inline = self._inline
        if token == "*":
            return state | ((inline + (state & inline)) ^ inline)
        if token == "?":
            return (state & inline) << 1
        return (state & self._char(token)) << 1

    def _ends(self, state: int, form: str) -> int:
        """The newline positions reached from `state` by the rest of a simplified pattern."""
        inline = self._inline
        last = len(form) - 1
        for position, token in enumerate(form):
            if token == "*":
                if position == last:  # a final `*` reaches the newline of every line it is in
                    return ((inline + (state & inline)) | state) & self._newline
                state |= (inline + (state & inline)) ^ inline
            elif position == last - 1 and form[last] == "*":
                # One character then the final `*` (`*Tags*`, `Get?*`): every line where the
                # character can be read, found by the carry it sends to the line's newline.
                read = inline if token == "?" else self._char(token)
                return (inline + (state & read)) & self._newline
            elif token == "?":
                state = (state & inline) << 1
            else:
                state = (state & self._char(token)) << 1
            if not state:
                return 0
        return state & self._newline

    def lines(self, hits: int) -> int:
        """Bitset (bit i for name i) of the names whose newline positions are set in `hits`."""
        if not hits:
            return 0
        picked = self._pick(hits.to_bytes(self._bytes, "little"))
        top_bits = bytes([picked]) if self._single else bytes(picked)
        return int(top_bits.translate(_TOP_BIT_DIGITS), 2)


def _matchable(pattern: str) -> bool:
    return "\n" not in pattern and _PAD not in pattern  # no name holds these
