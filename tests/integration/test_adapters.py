"""The boto3 adapters against the emulator, and their pure helpers (decoding, cache, errors)."""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import ClientError

from grantguard.adapters import iam as iam_adapter
from grantguard.adapters import session
from grantguard.adapters.iam import Boto3Iam, decode_document, translate
from grantguard.adapters.sns import SnsPublisher
from grantguard.alerts.text import Alert
from grantguard.demo import resources
from grantguard.ports import AccessDeniedError, NotFoundError, PermanentAwsError

pytestmark = pytest.mark.integration

VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, "GetPolicy")


def test_documents_decode_from_dicts_and_url_encoded_json() -> None:
    assert decode_document(DOCUMENT) is DOCUMENT
    assert decode_document(quote(json.dumps(DOCUMENT))) == DOCUMENT
    with pytest.raises(TypeError, match="expected a JSON object"):
        decode_document(quote("[1, 2]"))


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("NoSuchEntity", NotFoundError),
        ("AccessDenied", AccessDeniedError),
        ("InvalidInput", PermanentAwsError),
        ("Throttling", ClientError),
        ("ServiceFailure", ClientError),
    ],
)
def test_errors_are_permanent_only_when_retrying_cannot_help(code: str, kind: type) -> None:
    translated = translate(client_error(code), "GetPolicy")
    assert type(translated) is kind
    if isinstance(translated, PermanentAwsError):
        assert translated.code == code and "GetPolicy" in str(translated)


def test_document_cache_is_bounded_and_keeps_the_most_recent() -> None:
    iam_adapter.clear_cache()
    for n in range(iam_adapter.CACHE_LIMIT + 10):
        iam_adapter.remember_document(f"arn:aws:iam::1:policy/p{n}", "v1", {"n": n})
    assert len(iam_adapter._DOCUMENTS) == iam_adapter.CACHE_LIMIT
    assert iam_adapter.cached_document("arn:aws:iam::1:policy/p0", "v1") is None
    last = iam_adapter.CACHE_LIMIT + 9
    assert iam_adapter.cached_document(f"arn:aws:iam::1:policy/p{last}", "v1") == {"n": last}
    iam_adapter.clear_cache()


def test_policy_document_follows_the_default_version(aws: boto3.session.Session) -> None:
    client = aws.client("iam")
    arn = client.create_policy(PolicyName="p", Path="/a/b/", PolicyDocument=json.dumps(DOCUMENT))[
        "Policy"
    ]["Arn"]
    wider = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    client.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(wider), SetAsDefault=True)
    document = Boto3Iam().policy_document(arn)
    assert document.version_id == "v2" and document.document["Statement"][0]["Action"] == "*"
    managed = Boto3Iam().policy_document(VIEW_ONLY)
    assert managed.arn == VIEW_ONLY and managed.document["Statement"]
    with pytest.raises(NotFoundError):
        Boto3Iam().policy_document("arn:aws:iam::123456789012:policy/missing")


def test_user_context_reads_tags_and_attachments(aws: boto3.session.Session) -> None:
    client = aws.client("iam")
    client.create_user(UserName="ann", Tags=[{"Key": "team", "Value": "data"}])
    client.attach_user_policy(UserName="ann", PolicyArn=VIEW_ONLY)
    context = Boto3Iam().user_context("ann")
    assert context.exists and context.tags == {"team": "data"}
    assert context.attached_policy_arns == (VIEW_ONLY,)
    assert Boto3Iam().user_context("nobody").exists is False
    with pytest.raises(NotFoundError):
        Boto3Iam().attached_policy_arns("nobody")


def test_detach_reports_whether_anything_was_attached(aws: boto3.session.Session) -> None:
    client = aws.client("iam")
    client.create_user(UserName="ann")
    client.attach_user_policy(UserName="ann", PolicyArn=VIEW_ONLY)
    gateway = Boto3Iam()
    assert gateway.detach("ann", VIEW_ONLY) is True
    assert gateway.detach("ann", VIEW_ONLY) is False  # already reverted counts as done
    assert gateway.detach("nobody", VIEW_ONLY) is False
    assert resources.attachments(aws, "ann") == []


def test_publish_sends_json_structure_subject_and_string_attributes(
    aws: boto3.session.Session,
) -> None:
    inbox = resources.create_inbox(aws)
    alert = Alert(
        subject="[GrantGuard] test",
        email="plain text for people",
        json_body={"k": "v"},
        attributes={"severity": "HIGH", "action": "alert_only", "event_name": ""},
    )
    session.CALLS.reset()
    message_id = SnsPublisher(inbox.topic_arn).publish(alert)
    assert message_id
    assert session.CALLS.snapshot() == {"sns:Publish": 1}
    [notification] = resources.receive(aws, inbox.queue_url, expected=1)
    assert notification["Subject"] == "[GrantGuard] test"
    assert notification["MessageId"] == message_id
    # Empty values are left out: SNS rejects an attribute without a value.
    assert notification["MessageAttributes"] == {
        "severity": {"Type": "String", "Value": "HIGH"},
        "action": {"Type": "String", "Value": "alert_only"},
    }
    assert json.loads(notification["Message"])["k"] == "v"
