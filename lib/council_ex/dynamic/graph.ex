defmodule CouncilEx.Dynamic.Graph do
  @moduledoc false
  # A dynamic council as a node graph for UIs (see
  # CouncilEx.DynamicCouncil.to_graph/1).

  alias CouncilEx.DynamicCouncil
  alias CouncilEx.Dynamic.Ref

  @doc "The council's `{nodes, edges}`."
  @spec to_graph(DynamicCouncil.t()) :: {[map()], [map()]}
  def to_graph(%DynamicCouncil{} = council) do
    members = Enum.map(council.members, &member_node("member", &1))
    chair = if council.chair, do: [member_node("chair", council.chair)], else: []

    input = %{
      id: "input",
      type: "input",
      data: %{label: "Input", rounds: Enum.map(council.rounds, &Ref.to_json(&1.type))}
    }

    output = %{id: "output", type: "output", data: %{label: "Output"}}
    sink = if council.chair, do: hd(chair).id, else: "output"

    edges =
      Enum.map(members, &edge("input", &1.id)) ++
        Enum.map(members, &edge(&1.id, sink)) ++
        if(council.chair, do: [edge(sink, "output")], else: [])

    {[input] ++ members ++ chair ++ [output], edges}
  end

  defp member_node(type, m) do
    data = %{
      label: m.role || m.id,
      member_id: m.id,
      role: m.role,
      profile: m.profile,
      metadata: m.metadata
    }

    %{id: type <> ":" <> m.id, type: type, data: data}
  end

  defp edge(source, target), do: %{id: source <> "->" <> target, source: source, target: target}
end
