# The Mock provider is configured for every test; CouncilEx.FakeCase adds
# :fake (a fake HTTP server) next to it.
Application.put_env(:council_ex, :providers, mock: [dispatcher: CouncilEx.Providers.Mock])
ExUnit.start()
