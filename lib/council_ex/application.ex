defmodule CouncilEx.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      CouncilEx.Registry.ETS,
      %{id: :pg, start: {:pg, :start_link, [CouncilEx.PubSub.PG.scope()]}},
      {Registry, keys: :unique, name: CouncilEx.Runner.Registry},
      {Task.Supervisor, name: CouncilEx.Runner.TaskSupervisor},
      CouncilEx.Providers.Mock
    ]

    Supervisor.start_link(children, strategy: :rest_for_one, name: CouncilEx.AppSupervisor)
  end
end
