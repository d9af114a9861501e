"""What each model family needs: chat format quirks, stop strings, default sampling, reasoning."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    system_prompt: bool = True  # False: instructions go into the user turn (DeepSeek-R1-Distill)
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    reasoning: bool = False  # output starts with <think> … </think>

    def sampling(self, temperature: float | None, stop: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
        """A call's temperature (the preset's when None) and stop strings (the call's, then the preset's)."""
        return (self.temperature if temperature is None else temperature,
                tuple(dict.fromkeys(tuple(stop) + self.stop)))


PRESETS = {
    "chatml": Preset("chatml", stop=("<|im_end|>",)),
    "llama3": Preset("llama3", temperature=0.6, top_p=0.9, stop=("<|eot_id|>", "<|eom_id|>")),
    "deepseek-r1": Preset("deepseek-r1", system_prompt=False, temperature=0.6, top_p=0.95,
                          stop=("<｜end▁of▁sentence｜>",), reasoning=True),
    # a model without a chat template (a base model): messages as plain text, stopped at the next turn
    "plain": Preset("plain", stop=("\nQuestion:", "\nUser:")),
}


def render_plain(messages: list[dict[str, str]]) -> str:
    """Messages as plain text for a model without a chat template, ending where the answer starts."""
    parts = []
    for m in messages:
        label = {"system": "", "user": "User: ", "assistant": "Assistant: "}.get(m["role"], "")
        parts.append(label + m["content"].strip())
    return "\n\n".join(parts) + "\n\nAnswer:"


def choose_preset(setting: str, model_name: str, chat_template: str | None) -> Preset:
    """``generation.preset``: the one named, or for 'auto' the one the model's name and chat template show."""
    return PRESETS[setting] if setting != "auto" else detect_preset(model_name, chat_template)


def detect_preset(model_name: str, chat_template: str | None) -> Preset:
    """Pick a preset from the model's name and chat template."""
    lowered = model_name.lower()
    template = chat_template or ""
    if "deepseek" in lowered and "r1" in lowered:
        return PRESETS["deepseek-r1"]
    if "<|start_header_id|>" in template:
        return PRESETS["llama3"]
    if "<|im_start|>" in template:
        return PRESETS["chatml"]
    return PRESETS["plain"]


def apply_preset(messages: list[dict[str, str]], preset: Preset) -> list[dict[str, str]]:
    """Fold system messages into the first user turn for models that take no system prompt."""
    if preset.system_prompt:
        return messages
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest
