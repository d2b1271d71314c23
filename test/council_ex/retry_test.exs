defmodule CouncilEx.RetryTest do
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.Error
  alias CouncilEx.Providers.Mock

  test "a 429 with retry-after is retried after the hinted delay, in the engine, and succeeds", %{
    fake: fake
  } do
    FakeProvider.script(fake, "solo-model", [
      [status: 429, headers: [{"retry-after-ms", "300"}], message: "Rate limit reached"],
      [content: "Second time lucky."]
    ])

    started = System.monotonic_time(:millisecond)
    {:ok, result} = CouncilEx.run(TestCouncils.NoChair, "q", retry: {3, 5_000})
    elapsed = System.monotonic_time(:millisecond) - started

    [round] = result.rounds
    solo = round.member_results[:solo]
    assert solo.status == :ok
    assert solo.response.content == "Second time lucky."
    assert solo.attempts == 2
    assert round.member_results[:duo].attempts == 1
    # The hint (300 ms) wins over the 5 s base.
    assert elapsed >= 300 and elapsed < 3_000, "took #{elapsed} ms"

    assert length(Enum.filter(FakeProvider.requests(fake), &(&1.body["model"] == "solo-model"))) ==
             2
  end

  test "a 401 is not retried; its error names the provider, status and message", %{fake: fake} do
    FakeProvider.script(fake, "solo-model", [
      [
        status: 401,
        message: "Incorrect API key provided",
        type: "invalid_request_error",
        code: "invalid_api_key"
      ]
    ])

    {:ok, result} = CouncilEx.run(TestCouncils.NoChair, "q", retry: {3, 10})
    solo = hd(result.rounds).member_results[:solo]

    assert %Error{
             kind: :permanent,
             provider: :fake,
             status: 401,
             message: "Incorrect API key provided"
           } = solo.error

    assert solo.attempts == 1

    assert length(Enum.filter(FakeProvider.requests(fake), &(&1.body["model"] == "solo-model"))) ==
             1

    refute inspect(solo.error) =~ "sk-test-secret"
  end

  test "exhausted attempts fail with the last error; a member's :retry wins over the run's", %{
    fake: fake
  } do
    FakeProvider.script(fake, "solo-model", [[status: 503]])
    FakeProvider.script(fake, "duo-model", [[status: 503]])

    {:error, result} = CouncilEx.run(TestCouncils.NoChair, "q", retry: {3, 1})
    [round] = result.rounds
    assert round.member_results[:solo].attempts == 3
    assert round.member_results[:solo].error.status == 503
    assert round.member_results[:solo].error.kind == :transient
  end

  test "a Mock member's transient errors are retried too" do
    test = self()

    Mock.script(:talker, fn _ ->
      send(test, :attempt)
      {:error, %Error{kind: :transient, reason: :overloaded, message: "try again"}}
    end)

    Mock.script(:quiet, content: "fine")
    {:ok, result} = CouncilEx.run(TestCouncils.MockedStream, "q", retry: {2, 1})
    talker = hd(result.rounds).member_results[:talker]
    assert talker.attempts == 2
    assert_received :attempt
    assert_received :attempt
    refute_received :attempt
    assert %Error{reason: :overloaded, message: "try again"} = talker.error
  end

  test "a bad :retry is refused before anything starts" do
    assert {:error, %Error{kind: :validation, message: message}} =
             CouncilEx.run(TestCouncils.NoChair, "q", retry: {0, 10})

    assert message =~ "invalid value for run option :retry"
  end
end
