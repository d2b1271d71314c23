defmodule CouncilEx.Result do
  @moduledoc """
  The outcome of a run.

  `final` is the chair's answer (nil when the council has no chair or the run
  did not get that far); `rounds` holds every round that ran, in order, with
  each member's result; `errors` lists every member failure and, for a failed
  run, the reason it failed.

  `status` is `:ok` when every call succeeded, `:partial` when the run
  completed although some members failed, `:error` when the run failed and
  `:cancelled` when it was cancelled.
  """

  @typedoc "The run's overall status."
  @type status :: :ok | :partial | :error | :cancelled

  @typedoc "A run's result."
  @type t :: %__MODULE__{
          run_id: String.t(),
          council: module() | String.t(),
          status: status(),
          final: CouncilEx.Response.t() | nil,
          rounds: [CouncilEx.RoundResult.t()],
          errors: [CouncilEx.Error.t()],
          metadata: map()
        }

  defstruct [:run_id, :council, status: :ok, final: nil, rounds: [], errors: [], metadata: %{}]
end
