"""Member credentials (one AssumeRole per account until they near expiry) and the directory,
against botocore's Stubber: no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from grantguard import budget
from grantguard.adapters import session
from grantguard.adapters.members import (
    RENEW_MARGIN_S,
    Boto3Directory,
    MemberSessions,
    MemberUnreachable,
)
from grantguard.org.place import OrgUnit
from grantguard.org_handler import BACKOFF_FIRST_S, BACKOFF_MAX_S, backoff_s, home_account
from grantguard.ports import TransientAwsError
from grantguard.settings import Settings

ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/GrantGuardMember"
NOW = 1_800_000_000.0


def sts_client() -> object:
    return boto3.client(
        "sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def assumed(expires_in_s: float) -> dict[str, object]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": datetime.fromtimestamp(NOW + expires_in_s, UTC),
        }
    }


def expect_assume(stub: Stubber, expires_in_s: float = 3600) -> None:
    stub.add_response(
        "assume_role",
        assumed(expires_in_s),
        {"RoleArn": ROLE_ARN, "RoleSessionName": "grantguard", "DurationSeconds": 3600},
    )


def test_credentials_are_assumed_once_and_reused_until_near_expiry() -> None:
    client = sts_client()
    clock = [NOW]
    sessions = MemberSessions("GrantGuardMember", client, clock=lambda: clock[0])
    with Stubber(client) as stub:
        expect_assume(stub)
        expect_assume(stub)
        first = sessions.session(ACCOUNT)
        assert sessions.session(ACCOUNT) is first
        clock[0] = NOW + 3600 - RENEW_MARGIN_S + 1  # inside the renewal margin
        renewed = sessions.session(ACCOUNT)
        stub.assert_no_pending_responses()
    assert renewed is not first
    assert sessions.assumed == 2
    assert first.get_credentials().access_key == "ASIAEXAMPLEEXAMPLE"


@pytest.mark.parametrize("code", ["AccessDenied", "InvalidClientTokenId"])
def test_a_role_that_cannot_be_assumed_says_which_account(code: str) -> None:
    client = sts_client()
    sessions = MemberSessions("GrantGuardMember", client)
    with Stubber(client) as stub:
        stub.add_client_error("assume_role", code, "not authorized to perform sts:AssumeRole")
        with pytest.raises(MemberUnreachable) as caught:
            sessions.session(ACCOUNT)
    assert str(caught.value).startswith(
        "could not act in account 111122223333: role missing or not trusted ("
    )
    assert caught.value.role_arn == ROLE_ARN


def test_a_throttled_assume_role_is_transient_and_not_cached() -> None:
    client = sts_client()
    sessions = MemberSessions("GrantGuardMember", client, clock=lambda: NOW)
    with Stubber(client) as stub:
        stub.add_client_error("assume_role", "Throttling", "Rate exceeded")
        expect_assume(stub)
        with pytest.raises(TransientAwsError):
            sessions.session(ACCOUNT)
        assert sessions.session(ACCOUNT) is not None
        stub.assert_no_pending_responses()


def organizations_client() -> object:
    return boto3.client(
        "organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_the_directory_reads_name_and_ou_path_once_per_account() -> None:
    client = organizations_client()
    directory = Boto3Directory(client, switch_role="Ops")
    with Stubber(client) as stub:
        stub.add_response("describe_account", {"Account": {"Id": ACCOUNT, "Name": "payments"}})
        stub.add_response(
            "list_parents", {"Parents": [{"Id": "ou-ab12-prod0001", "Type": "ORGANIZATIONAL_UNIT"}]}
        )
        stub.add_response(
            "describe_organizational_unit",
            {"OrganizationalUnit": {"Id": "ou-ab12-prod0001", "Name": "Production"}},
        )
        stub.add_response("list_parents", {"Parents": [{"Id": "r-ab12", "Type": "ROOT"}]})
        place = directory.place(ACCOUNT)
        assert directory.place(ACCOUNT) is place
        stub.assert_no_pending_responses()
    assert place.name == "payments"
    assert place.path == (OrgUnit("r-ab12", "Root"), OrgUnit("ou-ab12-prod0001", "Production"))
    assert place.switch_role == "Ops" and place.unread is None


def test_a_directory_that_cannot_answer_says_why_and_asks_again_next_time() -> None:
    client = organizations_client()
    directory = Boto3Directory(client)
    with Stubber(client) as stub:
        stub.add_client_error("describe_account", "AccessDeniedException", "not delegated")
        stub.add_response("describe_account", {"Account": {"Id": ACCOUNT, "Name": "payments"}})
        stub.add_response("list_parents", {"Parents": [{"Id": "r-ab12", "Type": "ROOT"}]})
        unread = directory.place(ACCOUNT)
        again = directory.place(ACCOUNT)
    assert (
        unread.unread == "Organizations could not say where the account is (AccessDeniedException)"
    )
    assert unread.path == ()
    assert again.name == "payments" and again.unread is None


def throttle(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "GetUser")


def test_throttling_is_recognised_directly_and_as_a_cause() -> None:
    assert session.is_throttle(throttle("Throttling"))
    wrapped = TransientAwsError("read failed")
    wrapped.__cause__ = throttle("ThrottlingException")
    assert session.is_throttle(wrapped)
    assert not session.is_throttle(throttle("AccessDenied"))
    assert not session.is_throttle(ValueError("x"))


def test_a_throttled_read_gives_up_well_inside_the_assessment_budget() -> None:
    limits = session.IAM_LIMITS
    assert limits.config().retries == {"mode": "standard", "total_max_attempts": 3}
    # throttle answers come at once; botocore's jittered backoff before the 2nd and 3rd attempt
    # sleeps at most 1 s + 2 s, so a throttled read raises (retried later), never runs out of time
    assert budget.WORK_BUDGET_S / 2 > 1 + 2


def test_deferred_events_back_off_with_jitter_up_to_the_ceiling() -> None:
    first = {backoff_s(1) for _ in range(200)}
    assert min(first) >= BACKOFF_FIRST_S // 2 and max(first) <= BACKOFF_FIRST_S
    late = [backoff_s(12) for _ in range(200)]
    assert max(late) <= BACKOFF_MAX_S and max(late) > 4 * BACKOFF_FIRST_S
    assert len(set(late)) > 20  # jittered, not one value


def test_the_home_account_is_read_from_the_functions_own_role() -> None:
    own = Settings(own_role_arns=("arn:aws:iam::999999999999:role/GrantGuard-OrgResponder",))
    assert home_account(own) == "999999999999"
    assert home_account(Settings()) is None


def test_credentials_expiring_soon_are_never_handed_out() -> None:
    client = sts_client()
    sessions = MemberSessions("GrantGuardMember", client, clock=lambda: NOW)
    with Stubber(client) as stub:
        expect_assume(stub, expires_in_s=RENEW_MARGIN_S - 1)
        expect_assume(stub)
        sessions.session(ACCOUNT)
        sessions.session(ACCOUNT)  # the first expire inside the margin: assumed again
        stub.assert_no_pending_responses()
    assert sessions.assumed == 2
    assert timedelta(seconds=RENEW_MARGIN_S) == timedelta(minutes=5)


def test_an_events_deferrals_are_read_from_its_message_attribute() -> None:
    from grantguard.org_handler import DEFERRALS_ATTRIBUTE, deferrals_of

    tagged = {
        "messageAttributes": {DEFERRALS_ATTRIBUTE: {"stringValue": "7", "dataType": "Number"}}
    }
    assert deferrals_of(tagged) == 7
    assert deferrals_of({}) == 0
    assert deferrals_of({"messageAttributes": {DEFERRALS_ATTRIBUTE: {"stringValue": "x"}}}) == 0
