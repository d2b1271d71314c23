defmodule CouncilEx.Round do
  @moduledoc """
  A user-defined round.

  The built-in rounds (`CouncilEx.Rounds`) run entirely in the C round loop.
  A module implementing this behaviour plugs into the same loop: before the
  round starts, the run's process calls `c:build_input/3` for each seated
  member and hands the texts to C, which sends them (with each member's
  system prompt) to the providers in parallel. When the round's calls are
  done, `c:parse_output/3` reads every answer and `c:aggregate/2` reduces
  them into the round's `aggregated` field.

      defmodule MyApp.Rounds.Headline do
        @behaviour CouncilEx.Round

        @impl true
        def name, do: :headline

        @impl true
        def build_input(_member_id, ctx, _opts),
          do: "Write a headline for: " <> ctx.input.question

        @impl true
        def parse_output(response, _member_id, _opts), do: {:ok, %{headline: response.content}}
      end

      round MyApp.Rounds.Headline
  """

  alias CouncilEx.{Context, Response, RoundResult}

  @doc "The round's name in events and results."
  @callback name() :: atom()

  @doc "The user message a member is sent in this round."
  @callback build_input(member_id :: atom() | String.t(), Context.t(), opts :: keyword()) ::
              String.t()

  @doc "Reads a member's answer; `{:error, reason}` marks it `:invalid_output`."
  @callback parse_output(Response.t(), member_id :: atom() | String.t(), opts :: keyword()) ::
              {:ok, term()} | {:error, term()}

  @doc "Reduces the parsed outputs of the members that succeeded."
  @callback aggregate(member_outputs :: %{(atom() | String.t()) => term()}, opts :: keyword()) ::
              {:ok, map() | nil} | {:error, term()}

  @doc "Used by `CouncilEx.Rounds.Iterate` when it is given no `:until`."
  @callback converged?(prev :: RoundResult.t() | nil, curr :: RoundResult.t(), opts :: keyword()) ::
              boolean()

  @optional_callbacks parse_output: 3, aggregate: 2, converged?: 3
end
