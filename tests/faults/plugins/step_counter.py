"""Recipe-local test plugin: a callback whose state must survive a kill (it counts optimiser steps
and adds the count as a metric), to check kill-and-resume with stateful callbacks."""

from __future__ import annotations

from toolkit import Callback, hookimpl


class StepCounter(Callback):
    def __init__(self):
        self.steps = 0

    def on_train_batch_end(self, state):
        self.steps += 1

    def on_validation_end(self, state):
        state.metrics["counted_steps"] = float(self.steps)

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = int(state["steps"])


@hookimpl
def tk_register_callbacks(register):
    register("step_counter", StepCounter, metrics=["counted_steps"])
