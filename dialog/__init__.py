"""Dialog flows, intents, slots and escalation decisions (imports the kernel only).

    flows = load_flows(Path("config/flows"))          # FlowError names file:line
    runner = DialogRunner(flows["clinic"], caller_io, records=store, transferrer=xfer,
                          call=CallData.from_call(info), on_turn=journal.append)
    outcome = await runner.run()

Modules, one concept each:

    flow, flow_loader, flow_checks               the YAML flow model and its checks
                                                 (YAML read by callcenter.core.yaml_lines)
    ports                                        what a runner needs (CallerIO, RecordStore,
                                                 Transferrer) and gives back (Turn, outcome)
    runner, runner_turns, listening              running a flow for one call
    intents                                      keyword/phrase fuzzy matching, global intents
    escalation_policy, agitation_words           when an upset caller goes to a person
    slots, numbers, datetimes                    yes/no, digits, numbers, dates, times
    templates                                    prompt templates read aloud well
    record_stores, console                       demo adapters: records in memory or SQLite,
                                                 and ``python -m dialog`` in a terminal
"""

from dialog.flow import Flow
from dialog.flow_loader import FlowError, FlowProblem, load_flow, load_flows
from dialog.intents import FuzzyIntentMatcher, Intent, IntentMatch, IntentMatcher
from dialog.ports import (
    CallData,
    CallerInput,
    CallerIO,
    DialogOutcome,
    Ending,
    InputKind,
    ListenSettings,
    RecordStore,
    Speaker,
    Transferrer,
    TransferResult,
    TransferTarget,
    Turn,
)
from dialog.runner import DialogRunner

__all__ = [
    "CallData", "CallerIO", "CallerInput", "DialogOutcome", "DialogRunner", "Ending", "Flow",
    "FlowError", "FlowProblem", "FuzzyIntentMatcher", "InputKind", "Intent", "IntentMatch",
    "IntentMatcher", "ListenSettings", "RecordStore", "Speaker", "TransferResult",
    "TransferTarget", "Transferrer", "Turn", "load_flow", "load_flows",
]
