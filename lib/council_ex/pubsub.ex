defmodule CouncilEx.PubSub do
  @moduledoc """
  Run events are published on topics: `"council_ex:run:" <> run_id`, and
  every topic a run lists in `:relay_topics`.

  The backend is an adapter (`CouncilEx.PubSub.Adapter`):

    * `CouncilEx.PubSub.PG` (the default) uses OTP's `:pg` in the
      `:council_ex` scope: no dependency, and it reaches subscribers on
      every connected node.
    * `CouncilEx.PubSub.Phoenix` shares the host application's
      `Phoenix.PubSub`:

          config :council_ex, pubsub: {CouncilEx.PubSub.Phoenix, name: MyApp.PubSub}

      It is used only when `Phoenix.PubSub` is loaded; otherwise CouncilEx
      logs a warning and falls back to `:pg`.
  """

  require Logger

  alias CouncilEx.PubSub.PG

  @doc "Subscribes the calling process to `topic` (with `:pg`, subscribing twice is a no-op)."
  @spec subscribe(String.t()) :: :ok
  def subscribe(topic) when is_binary(topic) do
    {adapter, config} = adapter()
    adapter.subscribe(config, topic)
  end

  @doc "Unsubscribes the calling process from `topic`."
  @spec unsubscribe(String.t()) :: :ok
  def unsubscribe(topic) when is_binary(topic) do
    {adapter, config} = adapter()
    adapter.unsubscribe(config, topic)
  end

  @doc "Sends `message` to every subscriber of `topic`."
  @spec broadcast(String.t(), term()) :: :ok
  def broadcast(topic, message) when is_binary(topic) do
    {adapter, config} = adapter()
    adapter.broadcast(config, topic, message)
  end

  @doc "The topic of a run's events."
  @spec run_topic(String.t()) :: String.t()
  def run_topic(run_id), do: "council_ex:run:" <> run_id

  @doc """
  The configured adapter and its config, after `init/1`. Falls back to
  `:pg` (with a warning) when the adapter is unavailable or rejects its
  config.
  """
  @spec adapter() :: {module(), term()}
  def adapter do
    case Application.get_env(:council_ex, :pubsub) do
      nil -> {PG, []}
      {PG, _} = pg -> pg
      {module, config} when is_atom(module) -> init(module, config)
      module when is_atom(module) -> init(module, [])
      other -> fallback(other, "expected {module, config}")
    end
  end

  defp init(module, config) do
    case Code.ensure_loaded?(module) && module.init(config) do
      {:ok, config} -> {module, config}
      {:error, why} -> fallback(module, why)
      false -> fallback(module, "no such module")
    end
  end

  # Warn once per distinct problem, not on every event.
  defp fallback(what, why) do
    key = {__MODULE__, :warned, what}

    unless :persistent_term.get(key, false) do
      :persistent_term.put(key, true)
      Logger.warning("CouncilEx.PubSub: #{inspect(what)} unusable (#{inspect(why)}); using :pg")
    end

    {PG, []}
  end
end
