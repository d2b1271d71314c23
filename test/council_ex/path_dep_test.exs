defmodule CouncilEx.PathDepTest do
  # Builds a user's mix project that depends on CouncilEx by `path:` (so the
  # NIF is compiled by that project's Mix through our compiler task), puts
  # CouncilEx.Supervisor in its tree and runs a council on the Mock provider.
  use ExUnit.Case, async: true

  @moduletag :path_dep
  @moduletag timeout: 300_000

  @fixture Path.expand("../fixtures/user_app", __DIR__)
  @root Path.expand("../..", __DIR__)

  test "a path dependency compiles and runs a supervised council" do
    # Outside the repository, as a user's project would be.
    tmp =
      Path.join(System.tmp_dir!(), "council_ex_user_app_#{System.unique_integer([:positive])}")

    File.cp_r!(@fixture, tmp)
    on_exit(fn -> File.rm_rf(tmp) end)

    {out, status} =
      System.cmd("mix", ["run", "-e", "UserApp.Council.demo()"],
        cd: tmp,
        env: [{"COUNCIL_EX_PATH", @root}, {"MIX_ENV", "dev"}],
        stderr_to_stdout: true
      )

    assert status == 0, out
    assert out =~ "final: Go on Tuesday."
    assert out =~ "rounds: independent_analysis,synthesis"
    assert out =~ "run_id ok: true"
    assert File.exists?(Path.join(tmp, "_build/dev/lib/council_ex/priv/council_ex_nif.so"))
  end
end
