defmodule CouncilEx.FakeCase do
  @moduledoc false
  # Starts a CouncilEx.FakeProvider per test and points the :fake provider
  # at it. Provider config is global, so these tests are not async.

  use ExUnit.CaseTemplate

  alias CouncilEx.FakeProvider

  using do
    quote do
      import CouncilEx.FakeCase
      alias CouncilEx.{FakeProvider, Native, TestCouncils}
    end
  end

  setup do
    fake = start_supervised!({FakeProvider, []})
    previous = Application.get_env(:council_ex, :providers, [])

    Application.put_env(
      :council_ex,
      :providers,
      Keyword.put(previous, :fake,
        adapter: CouncilEx.Provider.Adapters.OpenAI,
        api_key: "sk-test-secret-4242",
        base_url: FakeProvider.base_url(fake)
      )
    )

    on_exit(fn -> Application.put_env(:council_ex, :providers, previous) end)
    %{fake: fake}
  end

  @doc "Polls `fun` until it returns true or `timeout_ms` passes (a bound on failure only)."
  def eventually(fun, timeout_ms \\ 10_000) do
    deadline = System.monotonic_time(:millisecond) + timeout_ms
    poll(fun, deadline)
  end

  defp poll(fun, deadline) do
    cond do
      fun.() -> true
      System.monotonic_time(:millisecond) > deadline -> false
      true -> sleep_and_poll(fun, deadline)
    end
  end

  defp sleep_and_poll(fun, deadline) do
    Process.sleep(10)
    poll(fun, deadline)
  end

  @doc "Native run resources alive, after a GC of every process drops dead references."
  def live_runs do
    Enum.each(Process.list(), &:erlang.garbage_collect/1)
    CouncilEx.Native.stats().runs
  end

  @doc "Collects the run's events until its terminal event."
  def collect_events(run_id, acc \\ []) do
    receive do
      {:run_completed, ^run_id, _} = e -> Enum.reverse([e | acc])
      {:run_failed, ^run_id, _, _} = e -> Enum.reverse([e | acc])
      e when elem(e, 1) == run_id -> collect_events(run_id, [e | acc])
    after
      5_000 -> flunk("no terminal event for #{run_id}; got #{inspect(Enum.reverse(acc))}")
    end
  end
end
