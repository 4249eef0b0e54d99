"""The local demo: a real AWS emulator (moto server), real boto3 calls, the real handler."""
