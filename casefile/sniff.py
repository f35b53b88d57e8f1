"""What a file really is, from its first bytes, so a program called photo.jpg is refused as evidence.

An upload's declared media type and its file name are the sender's word; the bytes are not. Every
evidence file is sniffed here and accepted only as one of the types listed in TYPES (photos, scans,
recordings, PDFs, Word documents, plain text): what an officer collects as evidence (000 "Evidence
gathering"; 003 stage 2: CCTV, Noise App recordings, diary sheets, photos, letters). Anything else,
including executables, scripts, archives and HTML, is unrecognised and refused.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    """A media type evidence may be: its name, a phrase for messages, and the file name endings it has."""

    name: str
    label: str
    extensions: tuple[str, ...]


#: Every media type the sniffer recognises, by name. A deployment narrows this (ASB_EVIDENCE_MEDIA_TYPES);
#: it cannot widen it, since a type that is not sniffed could not be checked against its bytes.
TYPES: dict[str, MediaType] = {t.name: t for t in (
    MediaType("image/jpeg", "a JPEG image", (".jpg", ".jpeg", ".jpe", ".jfif")),
    MediaType("image/png", "a PNG image", (".png",)),
    MediaType("image/gif", "a GIF image", (".gif",)),
    MediaType("image/webp", "a WebP image", (".webp",)),
    MediaType("image/heic", "a HEIC photo", (".heic", ".heif")),
    MediaType("application/pdf", "a PDF document", (".pdf",)),
    MediaType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a Word document",
              (".docx",)),
    MediaType("text/plain", "plain text", (".txt", ".text")),
    MediaType("audio/mpeg", "an MP3 recording", (".mp3",)),
    MediaType("audio/wav", "a WAV recording", (".wav",)),
    MediaType("audio/ogg", "an Ogg recording", (".ogg", ".oga", ".opus")),
    MediaType("audio/flac", "a FLAC recording", (".flac",)),
    MediaType("audio/mp4", "an MPEG-4 recording", (".m4a", ".mp4", ".aac")),
    MediaType("video/mp4", "an MPEG-4 video", (".mp4", ".m4v", ".m4a")),
    MediaType("video/quicktime", "a QuickTime video", (".mov", ".qt")),
    MediaType("video/3gpp", "a 3GP recording", (".3gp", ".3gpp")),
    MediaType("video/webm", "a WebM video", (".webm", ".mkv")),
)}

#: Names senders use for the same type (browsers and phones disagree), mapped to the one kept.
ALIASES = {
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/heif": "image/heic",
    "audio/mp3": "audio/mpeg", "audio/x-mp3": "audio/mpeg", "audio/x-mpeg": "audio/mpeg",
    "audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav",
    "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4", "audio/aac": "audio/mp4", "audio/x-flac": "audio/flac",
    "audio/3gpp": "video/3gpp", "audio/webm": "video/webm", "video/x-matroska": "video/webm",
    "application/x-pdf": "application/pdf",
}
#: One container holds sound or pictures: an MPEG-4 recording declared as video (or the reverse) is fine.
SAME_CONTAINER = frozenset({"audio/mp4", "video/mp4"})

_MP4_BRANDS = {
    b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"F4A ": "audio/mp4",
    b"isom": "video/mp4", b"iso2": "video/mp4", b"iso4": "video/mp4", b"iso5": "video/mp4", b"iso6": "video/mp4",
    b"mp41": "video/mp4", b"mp42": "video/mp4", b"avc1": "video/mp4", b"M4V ": "video/mp4", b"dash": "video/mp4",
    b"MSNV": "video/mp4", b"f4v ": "video/mp4",
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3gp6": "video/3gpp", b"3gp7": "video/3gpp",
    b"3g2a": "video/3gpp", b"3ge6": "video/3gpp", b"3gs7": "video/3gpp",
    b"heic": "image/heic", b"heix": "image/heic", b"hevc": "image/heic", b"heim": "image/heic",
    b"heis": "image/heic", b"mif1": "image/heic", b"msf1": "image/heic",
}

#: What some refused files are, so the refusal can say so (they are never accepted, whatever the type list).
_KNOWN_BAD: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"\xcf\xfa\xed\xfe", "a program"),
    (b"\xca\xfe\xba\xbe", "a program"),
    (b"#!", "a script"),
    (b"PK\x03\x04", "a zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office file (which can carry macros)"),
    (b"{\\rtf", "an RTF document"),
)
_MARKUP = (b"<!doctype html", b"<html", b"<script", b"<?xml", b"<svg")
#: Control characters that plain text does not hold (tab, line feed, form feed and carriage return aside).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def normalise(declared: str | None) -> str | None:
    """A declared media type without parameters, lower case, under its usual name; None for 'unknown'."""
    if declared is None:
        return None
    name = declared.split(";", 1)[0].strip().lower()
    if name in ("", "application/octet-stream", "binary/octet-stream"):
        return None  # what a browser sends when it does not know
    return ALIASES.get(name, name)


def same_type(declared: str, sniffed: str) -> bool:
    return declared == sniffed or {declared, sniffed} <= SAME_CONTAINER


def sniff(content: bytes) -> str | None:
    """The media type of `content` (a name in TYPES), or None when it is none of them."""
    head = content[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] in (0xFB, 0xFA, 0xF3, 0xF2)):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head[4:8] == b"ftyp":
        return _MP4_BRANDS.get(head[8:12])
    if head.startswith(b"PK\x03\x04"):
        return _office(content)
    if _is_text(content):
        return "text/plain"
    return None


def describe(content: bytes) -> str:
    """A phrase for what `content` is, for a refusal: 'a Windows program', 'a PNG image', 'not a file type...'."""
    found = sniff(content)
    if found is not None:
        return TYPES[found].label
    for magic, label in _KNOWN_BAD:
        if content.startswith(magic):
            return label
    if content[:256].lstrip().lower().startswith(_MARKUP):
        return "a web page or markup"
    return "not a file type this service accepts"


def _office(content: bytes) -> str | None:
    """A Word document (.docx) is a zip with [Content_Types].xml and word/document.xml; any other zip is
    refused. Only the zip's directory is read, never its contents, so a zip bomb costs nothing."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" in names and "word/document.xml" in names and "word/vbaProject.bin" not in names:
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return None


def _is_text(content: bytes) -> bool:
    """UTF-8 text with no control characters but tabs and line breaks, and neither a script nor markup
    that a browser would run (a typed-up diary sheet is text; an HTML page is not evidence)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if _CONTROLS.search(text) or content.startswith(b"#!"):
        return False
    return not content[:256].lstrip().lower().startswith(_MARKUP)
