defmodule CouncilEx.PubSubTest do
  # Changes the :pubsub app config: not async.
  use ExUnit.Case, async: false

  import CouncilEx.Test
  import ExUnit.CaptureLog

  alias CouncilEx.{PubSub, TestCouncils}

  setup do
    on_exit(fn -> Application.delete_env(:council_ex, :pubsub) end)
  end

  test ":pg by default: subscribers on the topic get broadcasts, once each" do
    assert PubSub.adapter() == {PubSub.PG, []}
    :ok = PubSub.subscribe("t1")
    :ok = PubSub.subscribe("t1")
    :ok = PubSub.broadcast("t1", :hello)
    assert_receive :hello
    refute_receive :hello, 20
    :ok = PubSub.unsubscribe("t1")
    :ok = PubSub.broadcast("t1", :again)
    refute_receive :again, 20
  end

  test "the Phoenix adapter carries a whole run's events when Phoenix.PubSub is there" do
    start_supervised!({Phoenix.PubSub, name: :test_phoenix_pubsub})
    Application.put_env(:council_ex, :pubsub, {PubSub.Phoenix, name: :test_phoenix_pubsub})
    assert PubSub.adapter() == {PubSub.Phoenix, :test_phoenix_pubsub}

    script_council(TestCouncils.Mocked, "x")
    {:ok, result} = CouncilEx.run(TestCouncils.Mocked, "q", subscribe: true)
    run_id = result.run_id
    assert_received {:via_phoenix, {:run_started, ^run_id, _, _}}
    assert_received {:via_phoenix, {:run_completed, ^run_id, ^result}}
  end

  test "a misconfigured adapter falls back to :pg with one warning" do
    Application.put_env(:council_ex, :pubsub, {PubSub.Phoenix, "no name"})

    log =
      capture_log(fn ->
        assert PubSub.adapter() == {PubSub.PG, []}
        assert PubSub.adapter() == {PubSub.PG, []}
      end)

    assert log =~ "expected name: MyApp.PubSub"
    assert length(String.split(log, "unusable")) == 2

    Application.put_env(:council_ex, :pubsub, {NoSuchAdapter, []})
    assert capture_log(fn -> assert PubSub.adapter() == {PubSub.PG, []} end) =~ "no such module"
  end
end
