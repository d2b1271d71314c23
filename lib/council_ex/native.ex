defmodule CouncilEx.Native do
  @moduledoc false
  # The NIF boundary. Public modules validate their arguments, then call in
  # here; nothing else calls these functions.

  @on_load :load_nif
  @compile {:autoload, false}

  for file <- Path.wildcard(Path.join(__DIR__, "../../c_src/**/*.{c,h,def}")) do
    @external_resource file
  end

  @typedoc """
  A step: one execution of a round (or one iteration of an iterated
  round), counted from 0 in run order.
  """
  @type step :: non_neg_integer()

  @typedoc "A seat's index: members first, then the chair, then judges."
  @type seat :: non_neg_integer()

  @typedoc "A call's place among its step's calls."
  @type index :: non_neg_integer()

  @typedoc "A classified failure as the C core reports it (see c_src/enums.def)."
  @type c_error :: %{
          kind: :transient | :permanent | :timeout | :cancelled,
          reason: atom(),
          http_status: pos_integer() | nil,
          type: String.t() | nil,
          code: String.t() | nil,
          message: String.t() | nil,
          retry_after_ms: non_neg_integer() | nil
        }

  @typedoc "How a call ended, as the C core reports it with `:member_completed`."
  @type outcome :: %{
          status: :ok | :error | :skipped,
          content: binary() | nil,
          model: String.t() | nil,
          finish_reason: String.t() | nil,
          input_tokens: non_neg_integer() | nil,
          output_tokens: non_neg_integer() | nil,
          latency_us: non_neg_integer(),
          http_status: pos_integer() | nil,
          error: c_error() | nil,
          attempts: non_neg_integer(),
          parsed: CouncilEx.JSON.json() | nil,
          invalid_output: [{String.t(), String.t()}],
          cost: float() | nil,
          stop: atom(),
          confidence: float() | nil,
          ordering: [seat()] | nil,
          choice: integer() | nil,
          ballot_error: atom() | nil,
          labels: [seat()] | nil,
          pair: {seat(), seat()} | nil
        }

  @typedoc "What the C core reports when a step ends, with `:round_completed`."
  @type round_info :: %{
          aggregate: map() | nil,
          winner: integer() | nil,
          cands: [seat()] | nil,
          alive: [seat()] | nil,
          failure: atom() | nil,
          mean_confidence: float() | nil
        }

  @typedoc """
  An event of a run, sent to its owner in batches as
  `{:council_ex_run, tag, [event]}` (one message per engine step). The
  shapes are made in c_src/nif/events_nif.c.
  """
  @type event ::
          {:round_started, step(), round :: non_neg_integer(), iteration :: non_neg_integer()}
          | {:member_started, step(), index(), seat()}
          | {:member_token, step(), seat(), token_index :: non_neg_integer(), binary()}
          | {:member_request, step(), index(), seat(), body :: binary()}
          | {:tool_calls, step(), index(), seat(),
             [{id :: String.t(), name :: String.t(), args :: binary()}]}
          | {:call, step(), index(), seat(), body :: binary(), timeout_ms :: non_neg_integer()}
          | {:member_completed, step(), index(), seat(), outcome()}
          | {:round_completed, step(), round_info()}
          | {:seats_needed, step()}
          | {:judge_needed, step(), index(), seat(), seat()}
          | {:iteration_done, step()}
          | :run_completed
          | {:run_failed, reason :: atom()}
          | :run_cancelled

  def load_nif do
    path = :filename.join(:code.priv_dir(:council_ex), ~c"council_ex_nif")

    config = %{
      engines: Application.get_env(:council_ex, :engine_threads, 2),
      max_host_connections: Application.get_env(:council_ex, :max_host_connections, 0)
    }

    :erlang.load_nif(path, config)
  end

  @spec json_decode(binary(), pos_integer()) :: {:ok, term()} | {:error, term()}
  def json_decode(_json, _max_depth), do: :erlang.nif_error(:not_loaded)

  @spec json_encode(term(), pos_integer()) :: {:ok, binary()} | {:error, term()}
  def json_encode(_term, _max_depth), do: :erlang.nif_error(:not_loaded)

  @spec run_start(map(), reference()) :: {:ok, reference()} | {:error, term()}
  def run_start(_spec, _tag), do: :erlang.nif_error(:not_loaded)

  @spec run_cancel(reference()) :: :ok
  def run_cancel(_run), do: :erlang.nif_error(:not_loaded)

  @spec run_reply(reference(), non_neg_integer(), non_neg_integer(), tuple(), non_neg_integer()) ::
          :ok | {:error, :overloaded}
  def run_reply(_run, _step, _index, _reply, _latency_us), do: :erlang.nif_error(:not_loaded)

  @spec run_tool_results(reference(), non_neg_integer(), non_neg_integer(), [binary()]) ::
          :ok | {:error, :overloaded}
  def run_tool_results(_run, _step, _index, _results), do: :erlang.nif_error(:not_loaded)

  @spec run_answer(reference(), non_neg_integer(), tuple()) :: :ok | {:error, :overloaded}
  def run_answer(_run, _step, _answer), do: :erlang.nif_error(:not_loaded)

  @spec schema_compile(binary()) :: {:ok, reference()} | {:error, String.t()}
  def schema_compile(_json), do: :erlang.nif_error(:not_loaded)

  @spec enums() :: %{
          round_kinds: [atom()],
          orders: [atom()],
          ties: [atom()],
          aggregators: [atom()],
          confidences: [atom()],
          error_kinds: [atom()],
          stops: [atom()],
          reasons: [atom()],
          limits: %{atom() => pos_integer()}
        }
  def enums, do: :erlang.nif_error(:not_loaded)

  # in_flight: transfers on the engines; runs: live run resources;
  # normal_max_us, normal_over_1ms: the longest a NIF call held its normal
  # scheduler (thread CPU time) and how many passed 1 ms, since load (a
  # busy machine stretches them: `make bench` reports them);
  # normal_calls, dirty_calls: by NIF that follows the scheduling rule
  # (council_nif.c), the calls it kept on a normal scheduler and those it
  # moved to a dirty one, since load (`other` for a name it does not know).
  @spec stats() :: %{
          in_flight: non_neg_integer(),
          runs: non_neg_integer(),
          normal_max_us: non_neg_integer(),
          normal_over_1ms: non_neg_integer(),
          normal_calls: %{atom() => non_neg_integer()},
          dirty_calls: %{atom() => non_neg_integer()}
        }
  def stats, do: :erlang.nif_error(:not_loaded)

  @spec aggregate(atom(), non_neg_integer(), list(), map()) :: {:ok, map()} | {:error, atom()}
  def aggregate(_kind, _n, _ballots, _opts), do: :erlang.nif_error(:not_loaded)

  @spec ranking_parse(binary(), [binary()], [non_neg_integer()] | nil) ::
          {:ok, map()} | {:error, atom(), map()}
  def ranking_parse(_text, _labels, _expected), do: :erlang.nif_error(:not_loaded)

  @spec ranking_label(non_neg_integer()) :: binary()
  def ranking_label(_index), do: :erlang.nif_error(:not_loaded)
end
