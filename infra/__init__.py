"""GrantGuard's CDK side: typed settings from context, the stack and its constructs."""
