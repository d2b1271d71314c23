defmodule CouncilEx.TestCouncils do
  @moduledoc false
  # Councils shared by the tests. Every seat uses the :fake provider, which
  # CouncilEx.FakeCase points at a CouncilEx.FakeProvider on loopback.

  defmodule Skeptic do
    @moduledoc false
    use CouncilEx.Member
    role("skeptic")
    system_prompt("You are the skeptic. Look for what could go wrong.")
  end

  defmodule Three do
    @moduledoc false
    use CouncilEx

    member(:alpha, Skeptic, provider: :fake, model: "alpha-model", temperature: 0.2)
    member(:beta, provider: :fake, model: "beta-model", max_tokens: 300)
    member(:gamma, provider: :fake, model: "gamma-model", system_prompt: "You are Gamma.")
    round(:independent_analysis)
    chair(:chair, provider: :fake, model: "chair-model")
  end

  defmodule NoChair do
    @moduledoc false
    use CouncilEx

    member(:solo, provider: :fake, model: "solo-model")
    member(:duo, provider: :fake, model: "duo-model")
    round(:independent_analysis)
  end

  defmodule Mocked do
    @moduledoc false
    # Every seat on the Mock provider: scripted per test, no network.
    use CouncilEx

    member(:optimist, provider: :mock, model: "mock-a")
    member(:skeptic, Skeptic, provider: :mock, model: "mock-b")
    round(:independent_analysis)
    chair(:chair, provider: :mock, model: "mock-chair")
  end

  defmodule MockedStream do
    @moduledoc false
    use CouncilEx

    member(:talker, provider: :mock, model: "mock-s", stream: true)
    member(:quiet, provider: :mock, model: "mock-q")
  end
end
