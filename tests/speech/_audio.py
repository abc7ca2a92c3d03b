"""Test speech made on the fly: espeak-ng speaks a script, sox adds silence and noise."""

from __future__ import annotations

import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer

VOICES = {"en": "en-us", "pt": "pt-br", "es": "es"}
RATE_WPM = 150  # espeak-ng's default 175 is hard even for people


@dataclass(frozen=True)
class Line:
    language: str
    text: str


SCRIPT = [
    Line("en", "Where is the train station?"),
    Line("pt", "Bom dia. Quanto custa este livro?"),
    Line("en", "I would like a cup of coffee, please."),
    Line("pt", "Eu gostaria de um café, por favor."),
    Line("es", "Buenos días. ¿Cuánto cuesta este libro?"),
    Line("es", "¿Dónde está la estación de tren?"),
]


def say(text: str, language: str, path: Path) -> Path:
    """``text`` spoken by espeak-ng, as 16 kHz mono 16-bit WAV."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", VOICES[language], "-s", str(RATE_WPM), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    return path


def silence(seconds: float, path: Path) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "trim", "0", str(seconds)], check=True
    )
    return path


def noise(seconds: float, path: Path, *, volume: float = 0.05, kind: str = "whitenoise") -> Path:
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth", str(seconds), kind, "vol", str(volume)],
        check=True,
    )
    return path


def concat(parts: list[Path], path: Path) -> Path:
    subprocess.run(["sox", *map(str, parts), str(path)], check=True)
    return path


def mix_noise(speech: Path, path: Path, *, volume: float = 0.01) -> Path:
    """Speech with a low hiss under it (as a street would add)."""
    hiss = noise(duration(speech), path.with_suffix(".hiss.wav"), volume=volume, kind="pinknoise")
    subprocess.run(["sox", "-m", str(speech), str(hiss), str(path)], check=True)
    hiss.unlink()
    return path


def duration(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def wer(reference: list[str], hypothesis: list[str]) -> float:
    return float(jiwer.wer([words(r) for r in reference], [words(h) for h in hypothesis]))
