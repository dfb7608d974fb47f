"""Product illustrations for the demo catalog: small self-contained SVGs."""

from __future__ import annotations

from xml.sax.saxutils import escape

# ---------------------------------------------------------------- images

_OUTLINE = "#1d2733"
_METAL = "#9aa1a9"
_DARK = "#59626c"

# Icons drawn inside a 400x300 canvas above the caption; {fill} is the product colour.
_ICONS: dict[str, str] = {
    "cable": (
        f'<path d="M70 150C150 40 250 260 330 150" fill="none" stroke="{_OUTLINE}" '
        'stroke-width="16"/>'
        '<path d="M70 150C150 40 250 260 330 150" fill="none" stroke="{fill}" stroke-width="10"/>'
        f'<rect x="30" y="135" width="44" height="30" rx="4" fill="{_DARK}"/>'
        f'<rect x="326" y="135" width="44" height="30" rx="4" fill="{_DARK}"/>'
        f'<rect x="14" y="142" width="18" height="16" fill="{_METAL}"/>'
        f'<rect x="368" y="142" width="18" height="16" fill="{_METAL}"/>'
    ),
    "adapter": (
        f'<path d="M250 145H310" fill="none" stroke="{_OUTLINE}" stroke-width="10"/>'
        '<rect x="150" y="110" width="100" height="70" rx="10" fill="{fill}"/>'
        f'<rect x="306" y="130" width="40" height="30" rx="4" fill="{_DARK}"/>'
        f'<rect x="110" y="128" width="40" height="34" rx="3" fill="{_METAL}"/>'
    ),
    "box": (
        '<rect x="90" y="90" width="220" height="100" rx="12" fill="{fill}"/>'
        f'<path d="M120 165H280" fill="none" stroke="{_DARK}" stroke-width="12" '
        'stroke-dasharray="16 8"/>'
        '<circle cx="285" cy="115" r="6" fill="#4cd07d"/>'
    ),
    "panel": (
        '<rect x="50" y="110" width="300" height="60" rx="4" fill="{fill}"/>'
        f'<path d="M73 140H327" fill="none" stroke="{_DARK}" stroke-width="18" '
        'stroke-dasharray="14 6"/>'
    ),
    "speaker": (
        '<rect x="140" y="50" width="120" height="150" rx="14" fill="{fill}"/>'
        f'<circle cx="200" cy="150" r="32" fill="{_DARK}"/>'
        f'<circle cx="200" cy="88" r="14" fill="{_DARK}"/>'
    ),
    "plug": (
        f'<path d="M200 180C200 205 150 200 110 200" fill="none" stroke="{_OUTLINE}" '
        'stroke-width="10"/>'
        f'<path d="M182 100V66M218 100V66" fill="none" stroke="{_METAL}" stroke-width="10"/>'
        '<rect x="160" y="100" width="80" height="80" rx="14" fill="{fill}"/>'
    ),
    "battery": (
        '<rect x="120" y="90" width="150" height="90" rx="12" fill="{fill}"/>'
        f'<rect x="270" y="118" width="14" height="34" rx="3" fill="{_DARK}"/>'
        '<path d="M205 100L180 140H205L190 170L235 125H210L225 100Z" fill="#f2c230"/>'
    ),
    "mount": (
        f'<rect x="60" y="50" width="14" height="150" fill="{_METAL}"/>'
        f'<path d="M74 130H150L190 110" fill="none" stroke="{_OUTLINE}" stroke-width="10"/>'
        '<rect x="190" y="50" width="160" height="110" rx="6" fill="{fill}"/>'
    ),
    "tool": (
        '<rect x="90" y="125" width="110" height="36" rx="14" fill="{fill}"/>'
        f'<path d="M200 143H320" fill="none" stroke="{_METAL}" stroke-width="10"/>'
        f'<path d="M320 136L334 143L320 150Z" fill="{_METAL}"/>'
    ),
    "coil": (
        f'<path d="M105 115a95 40 0 1 0 190 0a95 40 0 1 0-190 0M105 135a95 40 0 1 0 190 0'
        f'a95 40 0 1 0-190 0" fill="none" stroke="{_OUTLINE}" stroke-width="14"/>'
        '<path d="M105 115a95 40 0 1 0 190 0a95 40 0 1 0-190 0M105 135a95 40 0 1 0 190 0'
        'a95 40 0 1 0-190 0" fill="none" stroke="{fill}" stroke-width="8"/>'
        f'<rect x="185" y="150" width="30" height="40" rx="4" fill="{_DARK}"/>'
    ),
    "keyboard": (
        '<rect x="70" y="95" width="260" height="100" rx="10" fill="{fill}"/>'
        f'<path d="M93 122H307M93 146H307M93 170H307" fill="none" stroke="{_DARK}" '
        'stroke-width="14" stroke-dasharray="16 6"/>'
    ),
    "mouse": (
        '<rect x="160" y="55" width="80" height="135" rx="40" fill="{fill}"/>'
        f'<path d="M200 57V105" fill="none" stroke="{_OUTLINE}" stroke-width="3"/>'
    ),
}


def _xml(text: str) -> str:
    """Escape text for both element content and double-quoted attributes."""
    return escape(text, {'"': "&quot;"})


# A product's gallery shows it from a few angles: the same drawing, turned or closer.
VIEWS: dict[str, str] = {
    "front": "",
    "side": ' transform="rotate(-9 200 140) translate(24 6) scale(0.88)"',
    "detail": ' transform="translate(-150 -95) scale(1.75)"',
}


def render_svg(
    kind: str,
    background: str,
    fill: str,
    title: str,
    caption: str,
    alt: str,
    view: str = "front",
) -> str:
    """A small self-contained SVG: no scripts, no links, no external fonts or images.

    It names no one product (the caption says colour and length), so the demo renders
    each drawing once and every product that looks alike shares its file."""
    size = 22 if len(title) <= 26 else 18
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="400" '
        f'height="300" role="img" aria-label="{_xml(alt)}">'
        f"<title>{_xml(alt)}</title>"
        f'<rect width="400" height="300" fill="{background}"/>'
        f'<g stroke="{_OUTLINE}" stroke-width="3" stroke-linejoin="round"{VIEWS[view]}>'
        f"{_ICONS[kind].format(fill=fill)}</g>"
        # A close-up's drawing reaches below the caption's top: a band keeps it readable.
        + (
            f'<rect y="212" width="400" height="88" fill="{background}"/>'
            if view == "detail"
            else ""
        )
        + '<text x="200" y="240" text-anchor="middle" font-family="sans-serif" '
        f'font-size="{size}" font-weight="bold" fill="{_OUTLINE}">{_xml(title)}</text>'
        f'<text x="200" y="268" text-anchor="middle" font-family="sans-serif" '
        f'font-size="14" fill="#3b4a5a">{_xml(caption)}</text>'
        "</svg>\n"
    )
