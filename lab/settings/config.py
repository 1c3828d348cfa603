"""User settings: the config file (TOML in the user config folder) overridden by `LAB_*` variables.

API keys are deliberately absent: providers' keys are read by litellm from their usual
environment variables and never pass through, or get written by, this module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lab.errors import LabError
from lab.settings import paths

if TYPE_CHECKING:
    from lab.settings.calls import CallConfig


class Settings(BaseSettings):
    """Prompt Lab settings. Every field can be set in config.toml or as `LAB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="LAB_", extra="ignore")

    model: str | None = Field(default=None, description="litellm model name used for attempts, e.g. openai/gpt-4o-mini.")
    api_base: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio, a LiteLLM proxy).")
    judge_model: str | None = Field(default=None, description="Model for `judge` criteria; defaults to the attempt's model.")
    judge_api_base: str | None = Field(default=None, description="Base URL of the judge's server; defaults to `api_base` when the judge is of the attempt's provider, else none (a hosted API). `none` forces a hosted API.")
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for a model before giving up.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries on 429 and 5xx answers, with exponential backoff.")
    concurrency: int = Field(default=4, ge=1, le=32, description="Model calls in flight at once for one attempt.")
    max_cost: float | None = Field(default=None, gt=0, description="Daily spending cap in USD (your local day): an attempt that would pass it asks first; unset means no cap.")
    theme: str = Field(default="textual-dark", description="TUI theme.")
    learner: str | None = Field(default=None, description="Your name as a trainer sees it in `lab export` submissions.")
    cache: bool = Field(default=True, description="Answer a request repeated at temperature 0 (same model, messages and call settings) from the local response cache: no call, no charge. `--no-cache` asks the model again.")
    cache_max_mb: float = Field(default=100.0, gt=0, description="Size bound of the response cache in MB; the answers used least recently go first.")

    def call_config(self) -> "CallConfig | None":
        """How attempts call the model (None when no model is chosen)."""
        from lab.settings.calls import CallConfig

        if not self.model:
            return None
        return CallConfig(self.model, self.api_base, self.timeout, self.max_retries, cache=self._cache_mode())

    def judge_call_config(self) -> "CallConfig | None":
        """How `judge` criteria call their model: the judge model, else the attempt's model, at the judge's
        own API base (`judge_api_base`), else the learner's when the judge has the learner's provider
        (or when there is no learner model)."""
        from lab.settings.calls import CallConfig, provider_of

        model = self.judge_model or self.model
        if not model:
            return None
        if self.judge_api_base:
            base = None if self.judge_api_base.lower() == "none" else self.judge_api_base
        elif not self.model or provider_of(model) == provider_of(self.model):
            # the learner's own server serves this provider's models; with no learner model
            # (`lab check --judge-model`), the one API base given can only be meant for the judge
            base = self.api_base
        else:
            base = None  # a judge of another provider is not on the learner's (local) server
        return CallConfig(model, base, self.timeout, self.max_retries, cache=self._cache_mode())

    def _cache_mode(self) -> str:
        return "use" if self.cache else "off"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=paths.config_file()))


# Tables of config.toml that are not Settings fields: read by others (the TUI's key bindings)
OTHER_TABLES = ("keymap",)


def settings_warnings(**overrides: Any) -> list[str]:
    """What in the settings is probably not what the learner meant, one sentence each: a key of the config
    file Prompt Lab does not know (a misspelt `modle` is otherwise silently ignored), and a model taken from
    `LAB_MODEL` paired with the file's `api_base` (a hosted model sent to the local server of the file)."""
    import difflib
    import os

    path = paths.config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # no file, or one load_settings reports as broken
    known = list(Settings.model_fields) + list(OTHER_TABLES)
    warnings = []
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        warnings.append(f"{path}: unknown key '{key}' is ignored; {hint}docs/config.md lists every key.")
    env_model = os.environ.get("LAB_MODEL", "").strip()
    file_base = data.get("api_base")
    if (env_model and file_base and overrides.get("model") is None and overrides.get("api_base") is None
            and "LAB_API_BASE" not in os.environ and data.get("model") != env_model
            and not env_model.startswith("local/")):  # the built-in model has its own server: no API base applies
        warnings.append(f"LAB_MODEL={env_model} is from the environment but api_base {file_base} is from {path}; "
                        f"set LAB_API_BASE too (or pass --api-base) to say which server {env_model} is on.")
    return warnings


def load_settings(**overrides: Any) -> Settings:
    """Settings from (highest first) explicit overrides, `LAB_*` variables, then the config file."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{paths.config_file()}: not valid TOML ({exc}); fix or delete the file.") from exc
    except ValueError as exc:  # pydantic's ValidationError
        raise LabError(_setting_problem(exc, clean)) from exc


def _setting_problem(exc: Exception, overrides: dict[str, Any]) -> str:
    """Which setting is wrong, where it was set (flag, variable or config file), and what it takes."""
    import os

    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"Invalid setting: {exc}."
    first = errors()[0]
    name = ".".join(str(p) for p in first["loc"])
    field = Settings.model_fields.get(name)
    what = first["msg"].removeprefix("Value error, ")
    wants = (field.description or "").rstrip(".") if field else ""
    variable = f"LAB_{name.upper()}"
    if name in overrides:
        where, fix = f"--{name.replace('_', '-')} {overrides[name]!r}", f"give --{name.replace('_', '-')} a valid value"
    elif variable in os.environ:
        where, fix = f"{variable}={os.environ[variable]!r}", f"set {variable} to a valid value, or unset it"
    else:
        where, fix = f"`{name}` in {paths.config_file()}", f"correct `{name}` in that file, or remove the line"
    return f"Invalid setting {where}: {_lower_first(what)} ({name}: {_lower_first(wants)}); {fix}. Nothing was changed."


def save_settings(**updates: Any) -> Path:
    """Write `updates` into the config file, keeping what else it holds. `None` removes a key."""
    import tomli_w

    path = paths.config_file()
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise LabError(f"{path}: not valid TOML ({exc}); fix or delete the file.") from exc
    for key, value in updates.items():
        if key not in Settings.model_fields:
            raise LabError(f"Unknown setting {key!r}.")
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(current), encoding="utf-8")
    tmp.replace(path)
    return path


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
