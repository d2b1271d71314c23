# The Mock provider is configured for every test; CouncilEx.FakeCase adds
# :fake (a fake HTTP server) next to it.
Application.put_env(:council_ex, :providers, mock: [dispatcher: CouncilEx.Providers.Mock])
# No retries unless a test asks for them (retry_test.exs does): a scripted
# 503 should fail at once, not after the default {2, 1000} backoff.
Application.put_env(:council_ex, :default_retry, {1, 0})
# assert_receive's wait only bounds how long a failure takes: on a busy
# machine 100 ms (the default) is not enough for a message that will come.
ExUnit.start(assert_receive_timeout: 5_000)
