defmodule CouncilEx.Bench.ThreadCpu do
  @moduledoc false
  # CPU time by thread group, from /proc: where a measured period's CPU went.
  # Groups: this VM's engine threads ("cx_engine"), its schedulers (normal
  # and dirty), everything else in the VM, and the nginx processes.

  # Linux reports utime and stime in clock ticks, nearly always 100 a second.
  @tick_us 10_000

  @doc "CPU microseconds used so far, by group."
  @spec snapshot(pos_integer()) :: %{atom() => non_neg_integer()}
  def snapshot(nginx_pid) do
    vm =
      for dir <- Path.wildcard("/proc/#{System.pid()}/task/*"), reduce: %{} do
        acc ->
          case {File.read(dir <> "/comm"), cpu_us(dir <> "/stat")} do
            {{:ok, comm}, us} when is_integer(us) -> Map.update(acc, group(comm), us, &(&1 + us))
            _ -> acc
          end
      end

    nginx =
      [nginx_pid | children(nginx_pid)]
      |> Enum.map(&(cpu_us("/proc/#{&1}/stat") || 0))
      |> Enum.sum()

    Map.put(vm, :nginx, nginx)
  end

  @doc "The CPU microseconds each group used between two snapshots."
  @spec diff(map(), map()) :: %{atom() => non_neg_integer()}
  def diff(before, later),
    do: Map.new(later, fn {group, us} -> {group, us - Map.get(before, group, 0)} end)

  defp group(comm) do
    comm = String.trim(comm)

    cond do
      comm == "cx_engine" -> :engine
      String.contains?(comm, ["scheduler", "_sch"]) -> :schedulers
      true -> :other_vm
    end
  end

  defp children(pid) do
    case File.read("/proc/#{pid}/task/#{pid}/children") do
      {:ok, text} -> text |> String.split() |> Enum.map(&String.to_integer/1)
      {:error, _} -> []
    end
  end

  # Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the
  # command name, which may itself hold spaces.
  defp cpu_us(path) do
    with {:ok, stat} <- File.read(path),
         [_, rest] <- String.split(stat, ") ", parts: 2),
         [utime, stime] <- rest |> String.split() |> Enum.slice(11, 2) do
      (String.to_integer(utime) + String.to_integer(stime)) * @tick_us
    else
      _ -> nil
    end
  end
end
