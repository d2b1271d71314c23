# A three-member council with a chair, end to end through the C engine.
#
# With OPENAI_API_KEY or OPENROUTER_API_KEY set it asks the real provider;
# otherwise it starts CouncilEx.FakeProvider on loopback. Run: make demo

alias CouncilEx.FakeProvider

question =
  System.get_env(
    "COUNCIL_QUESTION",
    "Should a five-person startup write its own job queue or use an existing one?"
  )

{provider, models, chair_model, where} =
  cond do
    key = System.get_env("OPENROUTER_API_KEY") ->
      Application.put_env(:council_ex, :providers,
        demo: [
          adapter: CouncilEx.Provider.Adapters.OpenRouter,
          api_key: key
        ]
      )

      {:demo, ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku", "google/gemini-2.0-flash-001"],
       "openai/gpt-4o-mini", "OpenRouter"}

    key = System.get_env("OPENAI_API_KEY") ->
      Application.put_env(:council_ex, :providers,
        demo: [adapter: CouncilEx.Provider.Adapters.OpenAI, api_key: key]
      )

      {:demo, ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini"], "gpt-4o-mini", "OpenAI"}

    true ->
      {:ok, fake} = FakeProvider.start_link(latency_ms: 150)

      Application.put_env(:council_ex, :providers,
        demo: [
          adapter: CouncilEx.Provider.Adapters.OpenAI,
          api_key: nil,
          base_url: FakeProvider.base_url(fake)
        ]
      )

      {:demo, ["fake-optimist", "fake-skeptic", "fake-pragmatist"], "fake-chair",
       "the local fake provider at #{FakeProvider.base_url(fake)}"}
  end

# A module body cannot see the script's variables: hand them over.
:persistent_term.put(:council_ex_demo_seats, {provider, models, chair_model})

defmodule Demo.Council do
  use CouncilEx

  {provider, [m1, m2, m3], chair_model} = :persistent_term.get(:council_ex_demo_seats)
  @provider provider
  @m1 m1
  @m2 m2
  @m3 m3
  @chair_model chair_model

  member(:optimist,
    provider: @provider,
    model: @m1,
    max_tokens: 300,
    system_prompt: "You are the council's optimist: argue for the upside, briefly."
  )

  member(:skeptic,
    provider: @provider,
    model: @m2,
    max_tokens: 300,
    system_prompt: "You are the council's skeptic: name the risks, briefly."
  )

  member(:pragmatist,
    provider: @provider,
    model: @m3,
    max_tokens: 300,
    system_prompt: "You are the council's pragmatist: recommend a concrete next step, briefly."
  )

  round(:independent_analysis)
  chair(:chair, provider: @provider, model: @chair_model, max_tokens: 500)
end

IO.puts("CouncilEx demo: 3 members and a chair on #{where}\nQuestion: #{question}\n")

{:ok, pid} = CouncilEx.start(Demo.Council, question, subscribe: true, run_id: "demo")

print = fn
  {:round_started, _, round, idx}, _ ->
    IO.puts("== round #{idx}: #{round}")

  {:member_started, _, _, id}, _ ->
    IO.puts("   #{id} asked")

  {:member_completed, _, _, id, %{status: :ok} = mr}, _ ->
    IO.puts(
      "   #{id} answered in #{mr.latency_ms} ms (#{mr.response.usage.output_tokens || "?"} tokens):"
    )

    IO.puts("      " <> String.replace(String.trim(mr.response.content), "\n", "\n      "))

  {:member_completed, _, _, id, mr}, _ ->
    IO.puts("   #{id} FAILED: #{Exception.message(mr.error)}")

  {:round_completed, _, round, _}, _ ->
    IO.puts("== #{round} done\n")

  _, _ ->
    :ok
end

loop = fn loop ->
  receive do
    {:run_completed, "demo", _} -> :ok
    {:run_failed, "demo", errors, _} -> {:failed, errors}
    event -> print.(event, nil) && loop.(loop)
  after
    180_000 -> {:failed, :timeout}
  end
end

case {loop.(loop), CouncilEx.await(pid, 5_000)} do
  {:ok, {:ok, result}} ->
    IO.puts(
      "Final answer (#{result.metadata.duration_ms} ms, #{result.metadata.total_input_tokens} in / #{result.metadata.total_output_tokens} out tokens):\n"
    )

    IO.puts(result.final.content)

  {failure, _} ->
    IO.puts("The council failed: #{inspect(failure)}")
    System.halt(1)
end
