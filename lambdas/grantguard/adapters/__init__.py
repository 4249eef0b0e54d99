"""The only modules that talk to AWS: boto3 lives here, behind the small interfaces in `ports`.

Importing this package imports no AWS library; `iam` and `sns` do when they are imported.
"""
