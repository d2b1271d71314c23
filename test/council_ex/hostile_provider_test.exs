defmodule CouncilEx.HostileProviderTest do
  # What a provider says when it misbehaves reaches the member's error
  # classified, with a message that says what happened, and never with the
  # API key in it.
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.Error

  @key "sk-test-secret-4242"

  defp solo_error(opts \\ []) do
    {:ok, pid} =
      CouncilEx.start(TestCouncils.NoChair, "q", [subscribe: true, retry: {1, 10}] ++ opts)

    run_id = CouncilEx.RunServer.run_id(pid)
    events = collect_events(run_id)
    {:ok, result} = CouncilEx.await(pid)
    {hd(result.rounds).member_results[:solo].error, events, result}
  end

  test "a redirect says it is one, and that it is not followed", %{fake: fake} do
    FakeProvider.script(fake, "solo-model",
      status: 302,
      body: "",
      headers: [{"location", "https://elsewhere.example/v1/chat/completions"}]
    )

    assert {%Error{kind: :permanent, status: 302, message: message}, _, _} = solo_error()
    assert message =~ "redirect"
    assert message =~ "not followed"
  end

  test "a 10 MB header line is a permanent, named failure, not a transient out-of-memory",
       %{fake: fake} do
    FakeProvider.script(fake, "solo-model",
      headers: [{"x-huge", String.duplicate("a", 10_000_000)}]
    )

    assert {%Error{kind: :permanent, reason: :response_too_large, message: message}, _, _} =
             solo_error()

    assert message =~ "header"
  end

  test "a provider quoting the API key back has it redacted everywhere", %{fake: fake} do
    FakeProvider.script(fake, "solo-model",
      status: 401,
      message: "Incorrect API key provided: #{@key}. Check #{@key}.",
      type: "invalid_#{@key}",
      code: @key
    )

    assert {%Error{status: 401} = error, events, result} = solo_error()

    assert error.message ==
             "Incorrect API key provided: [REDACTED]. Check [REDACTED]."

    for term <- [error, events, result] do
      refute inspect(term, limit: :infinity, printable_limit: :infinity) =~ @key
    end
  end
end
