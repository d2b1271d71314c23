defmodule CouncilEx.PubSub do
  @moduledoc """
  Run events are published on topics (`"council_ex:run:" <> run_id`).

  The default backend is OTP's `:pg` (group scope `:council_ex`), which
  needs no dependency and reaches subscribers on every connected node.
  """

  alias CouncilEx.PubSub.PG

  @doc "Subscribes the calling process to `topic`. Subscribing twice is a no-op."
  @spec subscribe(String.t()) :: :ok
  def subscribe(topic) when is_binary(topic), do: PG.subscribe(topic, self())

  @doc "Unsubscribes the calling process from `topic`."
  @spec unsubscribe(String.t()) :: :ok
  def unsubscribe(topic) when is_binary(topic), do: PG.unsubscribe(topic, self())

  @doc "Sends `message` to every subscriber of `topic`."
  @spec broadcast(String.t(), term()) :: :ok
  def broadcast(topic, message) when is_binary(topic), do: PG.broadcast(topic, message)

  @doc "The topic of a run's events."
  @spec run_topic(String.t()) :: String.t()
  def run_topic(run_id), do: "council_ex:run:" <> run_id
end
