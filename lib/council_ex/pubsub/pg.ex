defmodule CouncilEx.PubSub.PG do
  @moduledoc """
  The default PubSub adapter: a topic is an OTP `:pg` group in the
  `:council_ex` scope, which CouncilEx's application starts. Subscribers on
  every connected node receive events.
  """

  @behaviour CouncilEx.PubSub.Adapter

  @scope :council_ex

  @doc false
  def scope, do: @scope

  @impl true
  def init(config), do: {:ok, config}

  @impl true
  def subscribe(_config, topic) do
    unless self() in :pg.get_local_members(@scope, topic), do: :pg.join(@scope, topic, self())
    :ok
  end

  @impl true
  def unsubscribe(_config, topic) do
    _ = :pg.leave(@scope, topic, self())
    :ok
  end

  @impl true
  def broadcast(_config, topic, message) do
    for pid <- :pg.get_members(@scope, topic), do: send(pid, message)
    :ok
  end
end
