defmodule CouncilEx.Bench.Nginx do
  @moduledoc false
  # An nginx master process owned by this script, in a temporary prefix.

  @template Path.expand("../nginx.conf.eex", __DIR__)
  @binary "/usr/sbin/nginx"

  defstruct [:port, :os_port, :os_pid, :prefix]

  @doc "Starts nginx serving `body` and waits until it accepts connections."
  def start(body) do
    prefix = Path.join(System.tmp_dir!(), "council_bench_#{System.unique_integer([:positive])}")
    File.mkdir_p!(prefix)
    port = free_port()
    conf = Path.join(prefix, "nginx.conf")
    error_log = Path.join(prefix, "error.log")

    File.write!(conf, render(prefix: prefix, port: port, run_as_root: root?(), body: body))

    # `daemon off` keeps the master in the foreground, so it is our child:
    # we know its pid and learn at once if it exits. `-e` keeps nginx from
    # touching the system's error log before it has read the config.
    os_port =
      Port.open({:spawn_executable, @binary}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        args: ["-p", prefix <> "/", "-c", conf, "-e", error_log]
      ])

    {:os_pid, os_pid} = Port.info(os_port, :os_pid)
    nginx = %__MODULE__{port: port, os_port: os_port, os_pid: os_pid, prefix: prefix}
    await_listening(nginx, System.monotonic_time(:millisecond) + 5_000)
  end

  @doc "Stops nginx (TERM, then KILL after 5 s) and removes its prefix."
  def stop(%__MODULE__{os_port: os_port, os_pid: os_pid, prefix: prefix}) do
    if Port.info(os_port) do
      System.cmd("kill", ["-TERM", to_string(os_pid)], stderr_to_stdout: true)

      receive do
        {^os_port, {:exit_status, _}} -> :ok
      after
        5_000 -> System.cmd("kill", ["-KILL", to_string(os_pid)], stderr_to_stdout: true)
      end
    end

    File.rm_rf(prefix)
    :ok
  end

  @doc "The nginx version, e.g. \"nginx/1.22.1\"."
  def version do
    {out, _} = System.cmd(@binary, ["-v"], stderr_to_stdout: true)
    out |> String.trim() |> String.replace_prefix("nginx version: ", "")
  end

  @doc """
  Renders bench/nginx.conf.eex. `:body` is the raw JSON reply; it is
  escaped here for a single-quoted nginx string.
  """
  def render(assigns) do
    assigns = Keyword.update!(assigns, :body, &escape/1)
    EEx.eval_file(@template, assigns: assigns)
  end

  # In a `return` text nginx expands `$name` variables and has no escape
  # for `$`, so a dollar becomes the equivalent JSON escape \u0024. Then
  # backslashes and single quotes are escaped for the quoted string (nginx
  # turns \\ and \' back into \ and ').
  defp escape(json) do
    json
    |> String.replace("$", "\\u0024")
    |> String.replace("\\", "\\\\")
    |> String.replace("'", "\\'")
  end

  defp await_listening(nginx, deadline) do
    receive do
      {port, {:exit_status, status}} when port == nginx.os_port ->
        log = File.read!(Path.join(nginx.prefix, "error.log"))
        File.rm_rf(nginx.prefix)
        raise "nginx exited with status #{status}:\n#{log}"
    after
      0 -> :ok
    end

    case :gen_tcp.connect({127, 0, 0, 1}, nginx.port, [:binary, active: false], 200) do
      {:ok, socket} ->
        :gen_tcp.close(socket)
        nginx

      {:error, reason} ->
        if System.monotonic_time(:millisecond) > deadline do
          stop(nginx)
          raise "nginx did not listen on port #{nginx.port}: #{inspect(reason)}"
        end

        Process.sleep(50)
        await_listening(nginx, deadline)
    end
  end

  defp free_port do
    {:ok, socket} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, reuseaddr: true)
    {:ok, port} = :inet.port(socket)
    :gen_tcp.close(socket)
    port
  end

  defp root? do
    {uid, 0} = System.cmd("id", ["-u"])
    String.trim(uid) == "0"
  end
end
