defmodule CouncilEx.PubSub.Phoenix do
  @moduledoc """
  PubSub adapter over the host application's `Phoenix.PubSub`.

      config :council_ex, pubsub: {CouncilEx.PubSub.Phoenix, name: MyApp.PubSub}

  The host application starts `Phoenix.PubSub` itself. CouncilEx does not
  depend on `phoenix_pubsub`: this adapter compiles without it and is used
  only when `Phoenix.PubSub` is loaded at runtime.
  """

  @behaviour CouncilEx.PubSub.Adapter

  @compile {:no_warn_undefined, Phoenix.PubSub}

  @impl true
  def init(config) do
    cond do
      not Code.ensure_loaded?(Phoenix.PubSub) ->
        {:error, "Phoenix.PubSub is not loaded"}

      not (Keyword.keyword?(config) and is_atom(config[:name]) and config[:name] != nil) ->
        {:error, "expected name: MyApp.PubSub"}

      true ->
        {:ok, config[:name]}
    end
  end

  @impl true
  def subscribe(name, topic), do: Phoenix.PubSub.subscribe(name, topic)

  @impl true
  def unsubscribe(name, topic), do: Phoenix.PubSub.unsubscribe(name, topic)

  @impl true
  def broadcast(name, topic, message) do
    _ = Phoenix.PubSub.broadcast(name, topic, message)
    :ok
  end
end
