"""`make bench-org`: organization mode under one noisy, throttled account, on the emulator.

moto in server mode, AWS managed policies not loaded (each member gets a customer-managed
TerraformAdmin, Action * on Resource *); --accounts members in 5 OUs plus the central account, no
member StackSet (the handler is fed directly; moto never checks the member role). Users get
TerraformAdmin attached; --events AttachUserPolicy records, forwarded envelopes in SQS records,
go 10 per invocation through ONE OrgRuntime (monitor mode), one invocation at a time. --noisy-share
come from one account in a burst within the first 30%; its IAM attempts answer Throttling with
probability --throttle (botocore's real backoff kept). Handed-back records come back through a
virtual queue after the visibility timeout the handler asked for x 1/30 (30 s -> 1 s), dead-lettered
after --max-receives. The peer run: the same quiet events (fresh ids), no noisy account, no
throttling. Latency: receipt (batch first offered) -> alert (its handle_event returned).

    python benchmarks/bench_org.py [--accounts 50] [--events 2000] [--noisy-share 0.10]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from grantguard.adapters import session
from grantguard.demo import events, org_emulator, org_scene, resources
from grantguard.demo.emulator import aws_environment, moto_server
from grantguard.demo.run import patched_environ
from grantguard.grants import kinds
from infra.organization import MAX_RECEIVES

POLICY = "TerraformAdmin"
ADMIN_DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
OUS = 5
USERS_PER_ACCOUNT = 4
BATCH = 10
SCALE = 1 / 30  # the handler's 30 s first backoff -> 1 s
QUEUE_VISIBILITY_S = 1800  # the org queue's own timeout (infra/organization.py), also scaled
DEPLOYED_MAX_RECEIVES = MAX_RECEIVES  # the org queue's maxReceiveCount
THROTTLE_BODY = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
    b"</Message></Error><RequestId>bench-injected</RequestId></ErrorResponse>"
)


class _Body:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield THROTTLE_BODY


@dataclass
class Throttler:
    """IAM attempts signed with `access_key` answer Throttling with probability `rate`."""

    rate: float
    access_key: str | None = None
    injected: int = 0
    _random: random.Random = field(default_factory=lambda: random.Random(11))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        if self.access_key is None or ".iam." not in event_name:
            return None
        header = request.headers.get("Authorization", b"")
        header = header.decode() if isinstance(header, bytes) else str(header)
        if self.access_key not in header:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            self.injected += 1
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Body())


@contextmanager
def hooked_clients(throttler: Throttler) -> Iterator[None]:
    """Every client session.client builds meanwhile passes its attempts through `throttler`."""
    original = session.client

    def client(service: str, session: Any = None, config: Any = None) -> Any:
        made = original(service, session, config)
        made.meta.events.register_last("before-send", throttler)
        return made

    session.client = client
    try:
        yield
    finally:
        session.client = original


class VirtualSqs:
    """The handler's SQS client: keeps the visibility timeout asked for each receipt handle."""

    def __init__(self) -> None:
        self.visibility: dict[str, int] = {}
        self.sent: dict[str, tuple[int, int]] = {}  # body -> (delay s, deferrals)
        self.calls: Counter[str] = Counter()

    def send_message(
        self, MessageBody: str, DelaySeconds: int, MessageAttributes: dict[str, Any], **_: Any
    ) -> dict[str, str]:
        """A deferred event requeued untried as a new delayed message."""
        self.calls["sqs:SendMessage"] += 1
        deferrals = int(MessageAttributes["grantguard-deferrals"]["StringValue"])
        self.sent[MessageBody] = (DelaySeconds, deferrals)
        return {"MessageId": str(uuid.uuid4())}

    def get_queue_url(self, **_: Any) -> dict[str, str]:
        self.calls["sqs:GetQueueUrl"] += 1
        return {"QueueUrl": "virtual"}

    def change_message_visibility(
        self, ReceiptHandle: str, VisibilityTimeout: int, **_: Any
    ) -> None:
        self.calls["sqs:ChangeMessageVisibility"] += 1
        self.visibility[ReceiptHandle] = VisibilityTimeout


@dataclass
class Item:
    index: int
    account: str
    user: str
    noisy: bool
    offers: int = 0
    received_at: float | None = None
    alerted_at: float | None = None
    dead: bool = False
    deferrals: int = 0  # requeued untried (a new message each time)
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    body: str = ""


@dataclass
class Run:
    name: str
    items: list[Item]
    wall_s: float = 0.0
    invocations: int = 0
    handed_back: int = 0
    requeued: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    assumed: int = 0
    throttled: int = 0
    inbox: int = 0
    lost: int = 0
    rss_mb: str = "n/a"


def build_world(management: boto3.session.Session, accounts: int) -> org_scene.OrgWorld:
    """org_scene.build's organization and central account, without the member StackSet."""
    members = {f"ou-{o}": [f"acct-{o}-{n}" for n in range(o, accounts, OUS)] for o in range(OUS)}
    layout = org_emulator.create_org(members, [org_scene.CENTRAL_NAME], session=management)
    central_id = layout.account(org_scene.CENTRAL_NAME).id
    central = org_emulator.session_for(central_id, session=management)
    bus = org_emulator.create_central_bus(central, layout.org_id, kinds.event_pattern())
    inbox = resources.create_inbox(central)
    resources.create_idempotency_table(central, org_scene.IDEMPOTENCY_TABLE)
    resources.create_idempotency_table(central, org_scene.SNAPSHOT_TABLE)
    return org_scene.OrgWorld(layout, management, central, central_id, bus, inbox, [])


def populate(world: org_scene.OrgWorld) -> list[str]:
    """TerraformAdmin attached to each member's users (the state the events report)."""
    members = [a.id for a in world.layout.accounts if a.name != org_scene.CENTRAL_NAME]
    for account in members:
        iam = world.member(account).client("iam")
        arn = iam.create_policy(PolicyName=POLICY, PolicyDocument=ADMIN_DOC)["Policy"]["Arn"]
        for n in range(USERS_PER_ACCOUNT):
            iam.create_user(UserName=f"dev{n}")
            iam.attach_user_policy(UserName=f"dev{n}", PolicyArn=arn)
    return members


def stream(members: list[str], total: int, share: float, seed: int = 5) -> list[Item]:
    """Quiet events spread over all members but the first; the first's share inside the
    first 30% of the stream, in arrival order."""
    rng = random.Random(seed)
    noisy, quiet = members[0], members[1:]
    loud = round(total * share)
    calm = [quiet[n % len(quiet)] for n in range(total - loud)]
    rng.shuffle(calm)
    burst = set(rng.sample(range(max(loud, int(total * 0.3))), loud))
    order = iter(calm)
    picks = [(noisy, True) if n in burst else (next(order), False) for n in range(total)]
    return [
        Item(i, a, f"dev{rng.randrange(USERS_PER_ACCOUNT)}", loud_one)
        for i, (a, loud_one) in enumerate(picks)
    ]


def fill(world: org_scene.OrgWorld, items: list[Item]) -> None:
    """Each item's body: the forwarded envelope (source, detail-type, detail; fresh ids)."""
    for item in items:
        arn = f"arn:aws:iam::{item.account}:policy/{POLICY}"
        detail = org_scene.grant_event(item.account, item.user, arn)
        item.body = json.dumps({**events.envelope(detail), "account": world.central_account})


class Fed:
    """One run's OrgRuntime, instrumented: throttle key, alert times, the virtual SQS client."""

    def __init__(self, run: Run, throttler: Throttler) -> None:
        from grantguard import org_handler  # noqa: PLC0415 - under the function's environment

        self.handler = org_handler.lambda_handler
        self.runtime = runtime = org_handler.runtime()
        self.sqs = VirtualSqs()
        runtime._sqs = self.sqs
        noisy = {item.account for item in run.items if item.noisy}
        by_key = {json.loads(i.body)["detail"]["eventID"]: i for i in run.items}
        real_session, real_handle = runtime.sessions.session, runtime.handle_event

        def session_of(account_id: str) -> Any:
            made = real_session(account_id)
            if account_id in noisy:
                throttler.access_key = made.get_credentials().access_key
            return made

        def handle_event(event: Any) -> dict[str, Any]:
            result = real_handle(event)
            item = by_key[event["detail"]["eventID"]]
            item.alerted_at = item.alerted_at or time.monotonic()
            return result

        runtime.sessions.session = session_of  # type: ignore[method-assign]
        runtime.handle_event = handle_event  # type: ignore[method-assign]


def offer(world: org_scene.OrgWorld, taken: list[Item]) -> list[dict[str, Any]]:
    """The batch as the event source hands it over (a fresh receipt handle per receive)."""
    records = []
    for item in taken:
        item.offers += 1
        item.received_at = item.received_at or time.monotonic()
        message = {
            "MessageId": item.message_id,
            "ReceiptHandle": str(uuid.uuid4()),
            "Body": item.body,
            "Attributes": {"ApproximateReceiveCount": str(item.offers)},
            "MessageAttributes": {
                "grantguard-deferrals": {"StringValue": str(item.deferrals), "DataType": "Number"}
            }
            if item.deferrals
            else {},
        }
        records.append(org_scene.sqs_record(message, world.bus.queue_arn))
    return records


def drive(world: org_scene.OrgWorld, run: Run, throttler: Throttler, cap: int) -> None:
    """Lambda's SQS event source over a virtual queue, one invocation at a time: the 10 oldest
    available records each time; a handed-back record is available again after its scaled
    visibility timeout, or dead-lettered after `cap` receives."""
    before = inbox_count(world)
    session.CALLS.reset()
    with hooked_clients(throttler):
        fed = Fed(run, throttler)
        ready = [item.index for item in run.items]
        waiting: list[tuple[float, int]] = []
        started = time.monotonic()
        while ready or waiting:
            now = time.monotonic()
            while waiting and waiting[0][0] <= now:
                heapq.heappush(ready, heapq.heappop(waiting)[1])
            if not ready:
                time.sleep(max(0.0, waiting[0][0] - now))
                continue
            taken = [run.items[heapq.heappop(ready)] for _ in range(min(BATCH, len(ready)))]
            records = offer(world, taken)
            result = fed.handler({"Records": records}, org_scene.LocalContext())
            run.invocations += 1
            back = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            for item, record in zip(taken, records, strict=True):
                if item.body in fed.sqs.sent:  # requeued untried: a new message, delayed
                    delay, item.deferrals = fed.sqs.sent.pop(item.body)
                    item.offers, item.message_id = 0, str(uuid.uuid4())
                    run.requeued += 1
                    heapq.heappush(waiting, (time.monotonic() + delay * SCALE, item.index))
                    continue
                if item.message_id not in back:
                    continue
                run.handed_back += 1
                item.dead = item.offers >= cap
                asked = fed.sqs.visibility.get(record["receiptHandle"], QUEUE_VISIBILITY_S)
                if not item.dead:
                    heapq.heappush(waiting, (time.monotonic() + asked * SCALE, item.index))
        run.wall_s = time.monotonic() - started
        run.calls = {**session.CALLS.reset(), **fed.sqs.calls}
        run.assumed = fed.runtime.sessions.assumed
        run.rss_mb = rss_mb()
    run.throttled = throttler.injected
    run.lost = sum(1 for i in run.items if i.alerted_at is None and not i.dead)
    run.inbox = inbox_count(world) - before


def rss_mb() -> str:
    """This process's resident memory (Linux): the warm runtime and its Responders."""
    try:
        with open("/proc/self/status") as status:
            line = next(x for x in status if x.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return "n/a"
    return str(int(line.split()[1]) // 1024)


def inbox_count(world: org_scene.OrgWorld) -> int:
    """Alerts in the SNS inbox so far (never received: the runs' counts are differences)."""
    attributes = world.central.client("sqs").get_queue_attributes(
        QueueUrl=world.inbox.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile, in ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def latencies(items: list[Item]) -> list[float]:
    return [i.alerted_at - i.received_at for i in items if i.alerted_at and i.received_at]


def spread(items: list[Item]) -> str:
    got = latencies(items)
    return f"{pct(got, 0.5):.0f} / {pct(got, 0.99):.0f}"


def warm(items: list[Item]) -> list[Item]:
    """The events first offered after their account's first alert (its responder was built)."""
    first: dict[str, float] = {}
    for item in items:
        if item.alerted_at is not None:
            first[item.account] = min(first.get(item.account, item.alerted_at), item.alerted_at)
    return [i for i in items if i.received_at and i.received_at > first.get(i.account, 0.0)]


def rows(run: Run) -> dict[str, str]:
    """The run's figures, by line label (ms latencies: receipt -> alert)."""
    n = len(run.items)
    quiet = [i for i in run.items if not i.noisy]
    noisy = [i for i in run.items if i.noisy]
    per_account: dict[str, list[float]] = {}
    for item in quiet:
        per_account.setdefault(item.account, []).extend(latencies([item]))
    worst = max(per_account, key=lambda a: pct(per_account[a], 0.99))
    services = Counter[str]()
    for name, count in run.calls.items():
        services[name.split(":", 1)[0]] += count
    handled = sum(1 for i in run.items if i.alerted_at is not None)
    return {
        "events (noisy account's)": f"{n} ({len(noisy)})",
        "accounts with events": str(len(per_account) + (1 if noisy else 0)),
        "invocations (one at a time)": str(run.invocations),
        "wall seconds": f"{run.wall_s:.1f}",
        "events/s": f"{n / run.wall_s:.1f}",
        "quiet p50 / p99 ms": spread(quiet),
        "  warm (account's responder already built)": spread(warm(quiet)),
        "worst quiet account's p99 ms": f"{pct(per_account[worst], 0.99):.0f} ({worst})",
        "noisy p50 / p99 ms": spread(noisy),
        "AWS calls per event": f"{sum(run.calls.values()) / n:.2f}",
        **{f"  {s} calls per event": f"{c / n:.2f}" for s, c in sorted(services.items())},
        "STS AssumeRole calls": str(run.assumed),
        "throttled IAM attempts injected": str(run.throttled),
        "records handed back after a try": str(run.handed_back),
        "records requeued untried (no receive used)": str(run.requeued),
        f"events received > {DEPLOYED_MAX_RECEIVES} times (deployed maxReceiveCount)": str(
            sum(1 for i in run.items if i.offers > DEPLOYED_MAX_RECEIVES)
        ),
        "most receives of one event": str(max(i.offers for i in run.items)),
        "events dead-lettered": str(sum(1 for i in run.items if i.dead)),
        "events lost": str(run.lost),
        "alerts in the SNS inbox / handled events": f"{run.inbox} / {handled}",
        "process RSS MB, warm runtime (the org function has 1024)": run.rss_mb,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--noisy-share", type=float, default=0.10)
    parser.add_argument("--throttle", type=float, default=0.5)
    parser.add_argument("--max-receives", type=int, default=MAX_RECEIVES)
    args = parser.parse_args()
    setup = time.monotonic()
    with (
        moto_server({"MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}) as endpoint,
        patched_environ(aws_environment(endpoint)),
    ):
        management = boto3.session.Session(region_name=org_emulator.REGION)
        world = build_world(management, args.accounts)
        members = populate(world)
        noisy = stream(members, args.events, args.noisy_share)
        peer = [i for i in noisy if not i.noisy]
        peer = [Item(n, i.account, i.user, False) for n, i in enumerate(peer)]
        runs = [Run("with the noisy account (throttled)", noisy), Run("peer: quiet only", peer)]
        setup_s = time.monotonic() - setup
        env = world.environment({})
        # The handler's logs and metrics: its loggers keep the stream they first saw.
        with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
            for run, rate in zip(runs, (args.throttle, 0.0), strict=True):
                fill(world, run.items)
                print(f"running: {run.name} ...", file=sys.stderr, flush=True)
                with org_scene.central_process(world, env):
                    drive(world, run, Throttler(rate), args.max_receives)
    print(f"setup (emulator, organization of {len(members)} members, users): {setup_s:.1f} s")
    print(
        f"policy: customer-managed {POLICY} (Action *, Resource *) in each member; AWS managed "
        "policies not loaded; no member StackSet (the handler is fed directly)"
    )
    print(f"throttling: IAM attempts signed by the noisy account, p={args.throttle}, real backoff")
    print(f"handed-back records come back after the handler's visibility timeout x {SCALE:.3f}")
    tables = [rows(run) for run in runs]
    print(f"{'':<52} {'with noise':>22} {'peer (no noise)':>22}")
    for label in tables[0]:
        print(f"{label:<52} {tables[0][label]:>22} {tables[1].get(label, '-'):>22}")
    with_noise, without = (pct(latencies([i for i in r.items if not i.noisy]), 0.99) for r in runs)
    print(f"quiet p99 with noise / without: {with_noise / without:.2f}")
    print(f"wall seconds with noise / without: {runs[0].wall_s / runs[1].wall_s:.2f}")
    print(f"events lost: {sum(r.lost for r in runs)}")
    unmatched = [r.name for r in runs if r.inbox != sum(1 for i in r.items if i.alerted_at)]
    return 1 if any(r.lost for r in runs) or unmatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
