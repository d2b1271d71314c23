defmodule CouncilEx.Registry.ETS do
  @moduledoc """
  The default `CouncilEx.Registry.Backend`: a named, public ETS table.

  The table is owned by a process the `:council_ex` application starts, so
  it lives as long as the application: entries are per node and lost on
  restart. Reads and writes go straight to the table from the caller.

  Before the application starts (for example while a council module is
  compiled) the table does not exist: reads return `nil` and `%{}`, writes
  return `{:error, :not_started}`.
  """

  @behaviour CouncilEx.Registry.Backend

  use GenServer

  @table :council_ex_registry

  @doc false
  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @impl GenServer
  def init(_opts) do
    :ets.new(@table, [:set, :public, :named_table, read_concurrency: true])
    {:ok, nil}
  end

  @impl CouncilEx.Registry.Backend
  def get(kind, name) do
    case :ets.lookup(@table, {kind, name}) do
      [{_, value}] -> value
      [] -> nil
    end
  rescue
    ArgumentError -> nil
  end

  @impl CouncilEx.Registry.Backend
  def put(kind, name, value), do: write(fn -> :ets.insert(@table, {{kind, name}, value}) end)

  @impl CouncilEx.Registry.Backend
  def delete(kind, name), do: write(fn -> :ets.delete(@table, {kind, name}) end)

  @impl CouncilEx.Registry.Backend
  def all(kind) do
    @table
    |> :ets.match_object({{kind, :_}, :_})
    |> Map.new(fn {{_, name}, value} -> {name, value} end)
  rescue
    ArgumentError -> %{}
  end

  @impl CouncilEx.Registry.Backend
  def reset, do: write(fn -> :ets.delete_all_objects(@table) end)

  # :ets raises ArgumentError when the table is missing.
  defp write(fun) do
    fun.()
    :ok
  rescue
    ArgumentError -> {:error, :not_started}
  end
end
