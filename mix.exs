defmodule Mix.Tasks.Compile.CouncilExNif do
  @moduledoc false
  # Builds c_src/ into priv/council_ex_nif.so by calling `make nif` with the
  # environment elixir_make would give it (no hex packages are available).
  use Mix.Task.Compiler

  @impl true
  def run(_args) do
    app_path = Mix.Project.app_path()
    root = Path.dirname(Mix.Project.project_file())

    erts_include =
      Path.join([:code.root_dir(), "erts-#{:erlang.system_info(:version)}", "include"])

    env = [
      {"MIX_APP_PATH", app_path},
      {"MIX_ENV", to_string(Mix.env())},
      {"MIX_BUILD_PATH", Mix.Project.build_path()},
      {"ERTS_INCLUDE_DIR", erts_include},
      {"BINDIR", nil},
      {"ROOTDIR", nil},
      {"PROGNAME", nil},
      {"EMU", nil}
    ]

    {output, status} =
      System.cmd("make", ["--no-print-directory", "nif"],
        cd: root,
        env: env,
        stderr_to_stdout: true
      )

    if status == 0 do
      if String.contains?(output, "-o "), do: Mix.shell().info(String.trim(output))
      Mix.Project.build_structure()
      {:ok, []}
    else
      Mix.shell().error(output)

      {:error,
       [
         %Mix.Task.Compiler.Diagnostic{
           compiler_name: "council_ex_nif",
           file: Path.join(root, "Makefile"),
           message: "make nif failed with exit status #{status}",
           position: nil,
           severity: :error
         }
       ]}
    end
  end

  @impl true
  def clean do
    root = Path.dirname(Mix.Project.project_file())
    System.cmd("make", ["clean"], cd: root, env: [{"MIX_APP_PATH", Mix.Project.app_path()}])
    :ok
  end
end

defmodule CouncilEx.MixProject do
  use Mix.Project

  def project do
    [
      app: :council_ex,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      compilers: [:council_ex_nif] ++ Mix.compilers(),
      elixirc_paths: elixirc_paths(Mix.env()),
      deps: [],
      description: "Multi-model LLM councils for Elixir/OTP, with the round loop in C."
    ]
  end

  def application do
    [
      extra_applications: extra_applications(Mix.env()),
      mod: {CouncilEx.Application, []}
    ]
  end

  # :inets only for the benchmark's :httpc baseline.
  defp extra_applications(:bench), do: [:logger, :crypto, :inets, :eex]
  defp extra_applications(_), do: [:logger, :crypto]

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(:bench), do: ["lib", "bench/support"]
  defp elixirc_paths(_), do: ["lib"]
end
