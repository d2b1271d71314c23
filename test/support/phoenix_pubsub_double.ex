defmodule Phoenix.PubSub do
  @moduledoc false
  # A stand-in with Phoenix.PubSub's subscribe/broadcast API, so the
  # CouncilEx.PubSub.Phoenix adapter can be tested without the hex package.
  # Subscriptions live in a duplicate-keys Registry named by the PubSub name.

  def child_spec(opts),
    do: Registry.child_spec(keys: :duplicate, name: Keyword.fetch!(opts, :name))

  def subscribe(name, topic) do
    {:ok, _} = Registry.register(name, topic, nil)
    :ok
  end

  def unsubscribe(name, topic), do: Registry.unregister(name, topic)

  def broadcast(name, topic, message) do
    Registry.dispatch(name, topic, fn entries ->
      for {pid, _} <- entries, do: send(pid, {:via_phoenix, message})
    end)
  end
end
