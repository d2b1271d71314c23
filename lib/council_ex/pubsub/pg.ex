defmodule CouncilEx.PubSub.PG do
  @moduledoc false
  # The :pg backend. A topic is a :pg group in the :council_ex scope.

  @scope :council_ex

  def scope, do: @scope

  def subscribe(topic, pid) do
    unless pid in :pg.get_local_members(@scope, topic), do: :pg.join(@scope, topic, pid)
    :ok
  end

  def unsubscribe(topic, pid) do
    _ = :pg.leave(@scope, topic, pid)
    :ok
  end

  def broadcast(topic, message) do
    for pid <- :pg.get_members(@scope, topic), do: send(pid, message)
    :ok
  end
end
