defmodule CouncilEx.StructuredOutputTest do
  use CouncilEx.FakeCase, async: false

  alias CouncilEx.Error

  defmodule VerdictSchema do
    @moduledoc false
    def json_schema do
      %{
        "type" => "object",
        "required" => ["verdict", "confidence"],
        "properties" => %{
          "verdict" => %{"enum" => ["ship", "wait"]},
          "confidence" => %{"type" => "number", "minimum" => 0, "maximum" => 1}
        },
        "additionalProperties" => false
      }
    end
  end

  defmodule Judges do
    @moduledoc false
    use CouncilEx

    member(:solo, provider: :fake, model: "solo-model", output_schema: VerdictSchema.json_schema())

    member(:duo, provider: :fake, model: "duo-model", output_schema: VerdictSchema)
  end

  test "a valid reply is parsed; an invalid one is :invalid_output with the reasons", %{
    fake: fake
  } do
    FakeProvider.script(fake, "solo-model",
      content: ~s(Here you go:\n```json\n{"verdict": "ship", "confidence": 0.8}\n```)
    )

    FakeProvider.script(fake, "duo-model",
      content: ~s({"verdict": "maybe", "confidence": 2, "extra": true})
    )

    {:ok, result} = CouncilEx.run(Judges, "Ship?")
    [round] = result.rounds
    solo = round.member_results[:solo]
    assert solo.status == :ok
    assert solo.response.parsed == %{"verdict" => "ship", "confidence" => 0.8}

    duo = round.member_results[:duo]
    assert duo.status == :invalid_output
    assert duo.response.content =~ "maybe"

    assert %Error{
             kind: :validation,
             reason: :invalid_output,
             member_id: :duo,
             context: %{errors: errors}
           } = duo.error

    assert Enum.sort(Enum.map(errors, & &1.path)) == ["", "/confidence", "/verdict"]
    assert Enum.any?(errors, &(&1.message =~ "additionalProperties"))

    # The schema went out the OpenAI way.
    [req | _] = FakeProvider.requests(fake)
    schema = VerdictSchema.json_schema()

    assert %{"type" => "json_schema", "json_schema" => %{"schema" => ^schema}} =
             req.body["response_format"]
  end

  test "a schema the validator cannot run is refused before anything starts" do
    defmodule BadSchema do
      @moduledoc false
      use CouncilEx
      member(:x, provider: :fake, model: "m", output_schema: %{"type" => "widget"})
    end

    assert {:error, %Error{kind: :validation, reason: :invalid_output_schema, message: message}} =
             CouncilEx.run(BadSchema, "q", run_id: "bad-schema")

    assert message =~ "member :x: output_schema"
    assert {:error, :unknown_run} = CouncilEx.lookup("bad-schema")
  end
end

defmodule CouncilEx.StructuredOutputTrailerTest do
  # A self-reported confidence trailer that is also the whole structured
  # answer (found by fuzzing the round loop): the span of the answer's JSON
  # outlived the trailer's removal, and reading it crashed the run server.
  use CouncilEx.FakeCase, async: false

  defmodule Loose do
    @moduledoc false
    use CouncilEx

    member(:solo,
      provider: :fake,
      model: "loose-model",
      output_schema: %{"type" => "object"},
      confidence: :self_report
    )
  end

  for reply <- [~s({"confidence": 0}), ~s(```json\n{"confidence": 0.5}\n```)] do
    test "the reply #{inspect(reply)} ends the run with a result", %{fake: fake} do
      FakeProvider.script(fake, "loose-model", content: unquote(reply))
      {:ok, pid} = CouncilEx.start(Loose, "q")
      ref = Process.monitor(pid)
      assert {status, %CouncilEx.Result{} = result} = CouncilEx.await(pid, 10_000)
      assert status in [:ok, :error]
      [round] = result.rounds
      member = Keyword.fetch!(round.member_results, :solo)
      # The trailer is cut before the answer's JSON is looked for: nothing
      # is left to follow the schema, so the answer is refused (and reports
      # no confidence), not read from a span past its end.
      assert member.status == :invalid_output
      assert %CouncilEx.Error{reason: :invalid_output} = member.error
      assert member.confidence == nil
      assert member.response.parsed == nil

      refute_received {:DOWN, ^ref, _, _, _}
    end
  end
end
