"""A deterministic demo catalog: ~1,200 monoprice-like products with variants and SVG images.

Everything comes from one ``random.Random(seed)``: the same seed gives the same rows and
byte-identical images on every machine, so screenshots, benchmarks and tests can rely on
them. Nothing reads the clock; ``created_at`` is spread over the two years before
``CATALOG_EPOCH``. Brands are invented.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.catalog.models import Category, Product
from quietshop.catalog.service import ProductDraft, VariantDraft, create_category, create_product

CATALOG_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
CATALOG_SPAN = timedelta(days=730)
LIFETIME_MONTHS = 120  # "limited lifetime" is stored as ten years; the terms text says so
FIRST_SKU_NUMBER = 10001
OUT_OF_STOCK_SHARE = 0.08
SALE_SHARE = 0.15


class DemoCatalogExists(Exception):
    """The catalog already has products; the demo loader never adds to a real catalog."""

    def __init__(self, product_count: int) -> None:
        super().__init__(
            f"the catalog already has {product_count} product(s); "
            "the demo catalog loads only into an empty catalog"
        )
        self.product_count = product_count


@dataclass(frozen=True)
class DemoSummary:
    category_count: int
    product_count: int
    variant_count: int


# ---------------------------------------------------------------- the catalog tree


@dataclass(frozen=True)
class Leaf:
    """A leaf category and the recipe for its products' names, prices and options."""

    slug: str
    name: str
    kind: str  # which icon the product images draw
    nouns: tuple[str, ...]  # sentence case; capitalised word by word in product names
    adjectives: tuple[str, ...]
    specs: tuple[tuple[str, ...], ...]  # one pick per group ("" = none), joined with ", "
    price: tuple[int, int]  # base price range in cents
    grams: tuple[int, int]
    blurb: tuple[str, ...]
    warranties: tuple[int, ...] = (12, 24)
    colours: tuple[str, ...] = ("Black",)
    max_colours: int = 1  # above 1, a product may come in several colours (one variant each)
    lengths: tuple[float, ...] = ()  # metres; a cable offers a run of these
    per_metre_cents: int = 0
    per_metre_grams: int = 0
    share: int = 2  # relative number of products


@dataclass(frozen=True)
class Top:
    slug: str
    name: str
    description: str
    background: str
    leaves: tuple[Leaf, ...]


# The tables below keep one leaf's recipe together, a few fields to a line; the formatter's
# one-value-per-line layout would triple their length without making them clearer.
# fmt: off
_CABLE_COLOURS = ("Black", "White", "Blue", "Red", "Grey")

CABLES = Top("cables", "Cables", "Cables for video, data, networking, audio and power.",
             "#dbe9f7", (
    Leaf("hdmi-cables", "HDMI Cables", "cable", ("HDMI cable",),
         ("Ultra Slim High Speed", "Premium High Speed", "Braided Ultra High Speed",
          "Certified Premium High Speed", "Flexible High Speed", "Active High Speed"),
         (("4K@60Hz, 18Gbps", "8K@60Hz, 48Gbps", "4K@120Hz, 48Gbps", "1080p@120Hz, 10.2Gbps"),
          ("28AWG", "30AWG", "26AWG", "24AWG"), ("Ethernet, ARC", "eARC", "HDR10", "")),
         (349, 999), (30, 60),
         ("Connects a streaming box, console or laptop to a TV, monitor or projector.",
          "Gold-plated connectors resist corrosion and keep the signal clean.",
          "The slim jacket bends easily behind wall-mounted screens."),
         (12, 24, LIFETIME_MONTHS), _CABLE_COLOURS, 3, (0.5, 1, 1.5, 2, 3, 5, 7.5, 10), 180, 40, 9),
    Leaf("displayport-cables", "DisplayPort Cables", "cable",
         ("DisplayPort cable", "Mini DisplayPort to DisplayPort cable"),
         ("Certified", "Braided", "Slim", "Premium"),
         (("DP 1.4, 8K@60Hz, 32.4Gbps", "DP 1.2, 4K@60Hz, 21.6Gbps", "DP 2.1, UHBR20, 80Gbps"),
          ("with Latches", "Latchless", "")),
         (699, 1499), (35, 60),
         ("Drives high refresh rate gaming monitors and multi-monitor daisy chains.",
          "Fully pinned, so adaptive sync and audio pass through.",
          "Tested at full bandwidth before packing."),
         (24, LIFETIME_MONTHS), ("Black", "White", "Silver"), 2, (0.5, 1, 2, 3, 5), 220, 45, 5),
    Leaf("usb-c-cables", "USB-C Cables", "cable", ("USB-C to USB-C cable", "USB-C charging cable"),
         ("Braided", "Slim", "Right-Angle", "Premium", "Coiled"),
         (("USB 2.0, 480Mbps", "USB 3.2 Gen 2, 10Gbps", "USB4, 40Gbps", "USB 3.2 Gen 2x2, 20Gbps"),
          ("60W PD", "100W PD", "240W EPR", ""), ("E-Marker", "")),
         (499, 1999), (20, 45),
         ("Charges laptops, tablets and phones and moves files in the same cable.",
          "The reversible connector plugs in either way up.",
          "A strain relief collar survives thousands of bends."),
         (12, 24), _CABLE_COLOURS, 3, (0.3, 0.5, 1, 1.5, 2, 3), 250, 30, 8),
    Leaf("usb-a-cables", "USB-A Cables", "cable",
         ("USB-A to USB-C cable", "USB-A to Micro-B cable", "USB-A extension cable",
          "USB-A to USB-B printer cable"),
         ("Braided", "Slim", "Gold-Plated", "Heavy Duty"),
         (("USB 2.0, 480Mbps", "USB 3.0, 5Gbps", "USB 3.2 Gen 2, 10Gbps"),
          ("28/24AWG", "28/26AWG", "")),
         (299, 899), (20, 40),
         ("Keeps older chargers, printers and hard drives in service.",
          "Shielded conductors keep transfers stable next to power cables."),
         (12, 24), ("Black", "White", "Blue"), 2, (0.3, 0.5, 1, 2, 3, 5), 150, 30, 6),
    Leaf("ethernet-patch-cables", "Ethernet Patch Cables", "cable", ("Ethernet patch cable",),
         ("Cat6", "Cat6a", "Cat5e", "Cat8", "Slim Cat6", "Flat Cat6"),
         (("Snagless RJ45", "Booted RJ45", "Molded Boot"), ("UTP", "STP", "S/FTP"),
          ("24AWG Pure Copper", "26AWG", "28AWG", "")),
         (199, 699), (25, 45),
         ("Wires a desk, a rack or a game console into the home network.",
          "Pure copper conductors carry Power over Ethernet without running hot.",
          "Snag-resistant boots slide out of crowded patch panels."),
         (24, LIFETIME_MONTHS),
         ("Blue", "Black", "White", "Grey", "Red", "Green", "Yellow", "Orange", "Purple"), 4,
         (0.3, 0.5, 1, 2, 3, 5, 7, 10, 15, 30), 90, 35, 10),
    Leaf("fiber-optic-cables", "Fiber Optic Cables", "cable", ("fiber optic patch cable",),
         ("OM4 Multimode", "OS2 Singlemode", "OM3 Multimode", "OM5 Wideband Multimode"),
         (("LC to LC", "LC to SC", "SC to SC"), ("Duplex", "Simplex"),
          ("LSZH", "OFNR Riser", "Armored")),
         (699, 1999), (20, 40),
         ("Links switches and servers at 10, 40 or 100 gigabits over long runs.",
          "Each connector is polished and tested for insertion loss.",
          "Immune to electrical interference in busy equipment rooms."),
         (12, 24), ("Aqua", "Yellow", "Orange", "Lime"), 1, (1, 2, 3, 5, 10, 15, 20, 30), 110, 15,
         4),
    Leaf("audio-cables", "Audio Cables", "cable",
         ("3.5mm auxiliary audio cable", "RCA stereo audio cable", "XLR microphone cable",
          "optical S/PDIF audio cable", '1/4" TRS instrument cable'),
         ("Braided", "Gold-Plated", "Oxygen-Free Copper", "Shielded"),
         (("Male to Male", "Male to Female"), ("Dual Shielded", "Noise Reducing", "")),
         (349, 1499), (30, 80),
         ("Carries clean sound between players, mixers, amplifiers and speakers.",
          "Double shielding keeps hum and buzz out of quiet passages."),
         (12, 24, LIFETIME_MONTHS), ("Black", "Red", "Grey", "White"), 2,
         (0.5, 1, 2, 3, 5, 10), 160, 45, 6),
    Leaf("power-cords", "Power Cords", "cable",
         ("AC power cord", "IEC C13 to C14 power cord", "C5 to NEMA 5-15P power cord",
          "C7 to NEMA 1-15P power cord", "NEMA 5-15P to C13 power cord"),
         ("Heavy Duty", "Slim", "Right-Angle", "Hospital Grade"),
         (("18AWG, 10A", "16AWG, 13A", "14AWG, 15A"),
          ("SJT Jacket", "SVT Jacket", "UL Listed", "")),
         (349, 1299), (80, 160),
         ("Replaces a lost or too-short cord for a monitor, PC or printer.",
          "Rated for continuous use at the full current printed on the jacket."),
         (12, 24), ("Black", "White", "Grey"), 2, (0.3, 0.6, 1, 1.8, 3, 5), 140, 90, 5),
))

ADAPTERS = Top(
    "adapters-converters", "Adapters & Converters",
    "Join one kind of port to another, from video to audio to networking.", "#e6e0f5", (
    Leaf("video-adapters", "Video Adapters", "adapter",
         ("USB-C to HDMI adapter", "USB-C to DisplayPort adapter", "DisplayPort to HDMI adapter",
          "Mini DisplayPort to HDMI adapter", "HDMI to VGA converter",
          "USB-C to dual HDMI adapter"),
         ("Compact", "Aluminum", "Travel", "Braided"),
         (("4K@60Hz", "4K@30Hz", "8K@30Hz, 4K@120Hz", "1080p@60Hz"), ("HDR", "HDCP 2.3", "")),
         (999, 3499), (20, 60),
         ("Connects a laptop to the screen in a meeting room or at home.",
          "No drivers: plug it in and the display lights up."),
         (12, 24), ("Grey", "Silver", "Black"), 1, share=4),
    Leaf("usb-adapters", "USB Adapters", "adapter",
         ("USB-C to USB-A adapter", "USB-A to USB-C adapter", "USB-C OTG adapter",
          "USB-C to Micro-B adapter"),
         ("Compact", "Aluminum", "Keychain", "2-Pack"),
         (("USB 3.2 Gen 1, 5Gbps", "USB 3.2 Gen 2, 10Gbps", "USB 2.0, 480Mbps"),
          ("Data and Charging", "OTG Support", "")),
         (399, 1299), (5, 20),
         ("Lets a new laptop use the flash drives and mice you already own.",
          "Small enough to live on a key ring."),
         (12,), ("Silver", "Grey", "Black"), 2, share=3),
    Leaf("network-adapters", "Network Adapters", "adapter",
         ("USB-C to Ethernet adapter", "USB-A to Ethernet adapter", "PCIe network card"),
         ("Gigabit", "2.5 Gigabit", "5 Gigabit", "10 Gigabit"),
         (("RJ45", ""), ("Driver-Free", "Wake-on-LAN", "PXE Boot", "")),
         (1299, 6999), (30, 120),
         ("Gives a thin laptop or a small PC a wired network port.",
          "Wired Ethernet beats crowded Wi-Fi for video calls and backups."),
         (12, 24, 36), share=2),
    Leaf("audio-converters", "Audio Converters", "box",
         ("digital to analog audio converter", "HDMI audio extractor", "optical to RCA converter"),
         ("Compact", "Aluminum", "Hi-Res"),
         (("24-bit/192kHz", "24-bit/96kHz", "16-bit/48kHz"),
          ("with Volume Control", "Bus Powered", "with Power Adapter", "")),
         (1499, 4999), (80, 250),
         ("Sends a TV's digital sound to an older amplifier or powered speakers.",
          "A low-noise converter keeps the background silent."),
         (12, 24), share=2),
))

NETWORKING = Top("networking", "Networking", "Switches, routers and everything in the rack.",
                 "#d9f0e6", (
    Leaf("network-switches", "Network Switches", "box", ("Ethernet switch", "PoE+ Ethernet switch"),
         ("5-Port Gigabit", "8-Port Gigabit", "16-Port Gigabit", "24-Port Gigabit", "8-Port 2.5G",
          "5-Port 10G"),
         (("Unmanaged", "Smart Managed", "Layer 2 Managed"),
          ("Desktop, Fanless Metal Case", "Rackmount, 1U", "Wall Mountable"),
          ("Plug and Play", "Energy Efficient Ethernet", "")),
         (1999, 24999), (300, 2500),
         ("Adds wired ports to a home office or a small business network.",
          "Fanless models run silently on a desk.",
          "Every port negotiates its speed automatically."),
         (24, 36, LIFETIME_MONTHS), share=4),
    Leaf("routers", "Routers", "box",
         ("Wi-Fi 6 router", "Wi-Fi 6E router", "Wi-Fi 7 router", "mesh Wi-Fi system", "VPN router"),
         ("Dual-Band", "Tri-Band", "Compact", "Gigabit"),
         (("AX1800", "AX3000", "AX5400", "BE9300"),
          ("4 Gigabit LAN Ports", "2.5G WAN Port", "WPA3, Guest Network", "")),
         (4999, 29999), (350, 1200),
         ("Covers a home with fast, stable Wi-Fi.",
          "Firmware updates install themselves; no account or cloud sign-up is needed.",
          "Guest networks keep visitors apart from your own devices."),
         (12, 24), ("Black", "White"), 1, share=3),
    Leaf("wifi-adapters", "Wi-Fi Adapters", "adapter", ("USB Wi-Fi adapter", "PCIe Wi-Fi card"),
         ("Nano", "Dual-Band", "High-Gain"),
         (("AC600", "AC1200", "AX1800", "AX3000"), ("with Antenna", "Bluetooth 5.2", ""),
          ("WPA3", "")),
         (1299, 4999), (10, 150),
         ("Brings a desktop PC onto the wireless network.",
          "External antennas reach routers through walls and floors."),
         (12, 24), share=2),
    Leaf("patch-panels", "Patch Panels", "panel", ("patch panel",),
         ("24-Port Cat6", "48-Port Cat6", "12-Port Cat6a", "24-Port Cat5e", "24-Port Keystone"),
         (("1U Rackmount", "2U Rackmount", "Wall Mount"), ("Shielded", "Unshielded", ""),
          ("with Cable Support Bar", "Punch-Down, 110 Type", "")),
         (1999, 9999), (600, 2200),
         ("Terminates structured cabling neatly at the rack.",
          "Numbered ports make moves and changes quick to trace."),
         (24, LIFETIME_MONTHS), share=2),
    Leaf("keystone-jacks-wall-plates", "Keystone Jacks & Wall Plates", "panel",
         ("keystone jack", "wall plate"),
         ("Cat6", "Cat6a", "Cat5e", "Single-Port", "Dual-Port", "Quad-Port"),
         (("Tool-Free", "Punch-Down", ""), ("10-Pack", "25-Pack", "")),
         (249, 1999), (20, 300),
         ("Finishes network outlets in walls and floor boxes.",
          "Colour-coded inserts tell data and phone lines apart."),
         (12, LIFETIME_MONTHS), ("White", "Black", "Blue", "Red", "Yellow"), 3, share=2),
))

AUDIO_VIDEO = Top("audio-video", "Audio & Video",
                  "Speakers, headphones, microphones and switching.", "#f7e3d9", (
    Leaf("speakers", "Speakers", "speaker",
         ("bookshelf speakers", "Bluetooth speaker", "soundbar", "computer speakers"),
         ("Powered", "Compact", "2.1 Channel", "Portable"),
         (("30W", "50W", "100W", "2 x 25W"), ("Bluetooth 5.3", "Optical Input",
                                              "RCA and 3.5mm Inputs", "")),
         (2499, 19999), (600, 6000),
         ("Fills a room with clear, balanced sound.",
          "Works without an app, an account or a microphone listening in.",
          "Front-facing ports let it sit close to a wall."),
         (12, 24), ("Black", "White", "Walnut"), 2, share=3),
    Leaf("headphones", "Headphones", "speaker",
         ("over-ear headphones", "on-ear headphones", "in-ear monitors", "wireless earbuds",
          "studio monitor headphones"),
         ("Noise Cancelling", "Closed-Back", "Open-Back", "Wireless", "Foldable"),
         (("40mm Drivers", "50mm Drivers", "Dual Drivers"),
          ("30-Hour Battery", "Detachable Cable", "Built-in Microphone", "")),
         (1499, 14999), (30, 350),
         ("Comfortable for a full working day or a long flight.",
          "Tuned for detail without harsh treble.",
          "Memory foam ear cushions can be replaced."),
         (12, 24), ("Black", "White", "Blue", "Grey", "Red"), 3, share=3),
    Leaf("microphones", "Microphones", "speaker",
         ("USB microphone", "dynamic microphone", "lavalier microphone", "condenser microphone"),
         ("Cardioid", "Studio", "Compact", "Broadcast"),
         (("24-bit/96kHz", "16-bit/48kHz", "XLR Output", "USB-C and XLR"),
          ("with Desk Stand", "with Shock Mount", "with Pop Filter", "")),
         (1999, 12999), (20, 700),
         ("Makes calls, podcasts and streams sound close and clear.",
          "The cardioid pattern rejects keyboard noise and room echo."),
         (12, 24), share=2),
    Leaf("hdmi-switches-splitters", "HDMI Switches & Splitters", "box",
         ("HDMI switch", "HDMI splitter", "HDMI matrix switch", "HDMI KVM switch"),
         ("2-Port", "3-Port", "4-Port", "4x2", "1x4"),
         (("4K@60Hz, HDR", "8K@60Hz, 4K@120Hz", "1080p@60Hz"),
          ("with Remote", "Auto Switching", "HDCP 2.3", "")),
         (1999, 12999), (150, 800),
         ("Shares one screen between several sources, or one source across several screens.",
          "Switches automatically to the device you just turned on."),
         (12, 24), share=3),
))

POWER = Top("power", "Power", "Surge protection, backup power and charging.", "#f7f0cf", (
    Leaf("surge-protectors", "Surge Protectors", "plug",
         ("surge protector", "surge protector power strip", "wall-mount surge protector"),
         ("6-Outlet", "8-Outlet", "12-Outlet", "3-Outlet Travel", "10-Outlet Rackmount"),
         (("1080 Joules", "2160 Joules", "3600 Joules", "4320 Joules"),
          ("1.8 m Cord", "3 m Cord", "Flat Plug", ""), ("USB-C PD 20W", "2 USB-A Ports", "")),
         (1299, 6999), (300, 1500),
         ("Protects computers and TVs from spikes during storms and grid switching.",
          "Widely spaced outlets leave room for bulky power bricks.",
          "A light shows when protection is still active."),
         (24, 36, LIFETIME_MONTHS), ("White", "Black"), 2, share=4),
    Leaf("ups-battery-backups", "UPS Battery Backups", "battery",
         ("UPS battery backup", "line-interactive UPS", "pure sine wave UPS"),
         ("600VA", "850VA", "1000VA", "1500VA", "2200VA"),
         (("360W", "510W", "900W", "1350W"), ("6 Outlets", "8 Outlets", "10 Outlets"),
          ("LCD Display", "USB Monitoring Port", "")),
         (6999, 29999), (4000, 18000),
         ("Keeps a PC, router and NAS running through short outages.",
          "Shuts the computer down cleanly when the battery runs low."),
         (24, 36), share=2),
    Leaf("chargers", "Chargers", "plug",
         ("USB-C wall charger", "GaN charger", "car charger", "multi-port charging station"),
         ("20W", "30W", "65W", "100W", "140W"),
         (("1 USB-C Port", "2 USB-C, 1 USB-A", "4 Ports"), ("Foldable Plug", "PD 3.0, PPS", "")),
         (999, 6999), (40, 350),
         ("Charges a laptop and a phone at full speed from one outlet.",
          "Gallium nitride parts keep it small and cool."),
         (12, 24), ("White", "Black"), 2, share=3),
    Leaf("power-banks", "Power Banks", "battery",
         ("power bank", "magnetic power bank", "laptop power bank"),
         ("5,000mAh", "10,000mAh", "20,000mAh", "26,800mAh"),
         (("20W PD", "45W PD", "65W PD", "100W PD"),
          ("USB-C In/Out", "with LED Display", "Slim", "")),
         (1999, 7999), (120, 600),
         ("Recharges a phone several times over on a trip.",
          "Airline carry-on safe below 100 Wh."),
         (12, 24), ("Black", "White", "Blue", "Pink"), 3, share=3),
))

MOUNTS = Top("mounts", "Mounts", "Wall, desk and ceiling mounts for screens and projectors.",
             "#e3e8ec", (
    Leaf("tv-wall-mounts", "TV Wall Mounts", "mount", ("TV wall mount",),
         ("Full-Motion", "Tilting", "Fixed Low-Profile", "Ceiling"),
         (('for 32-55" TVs', 'for 37-70" TVs', 'for 43-85" TVs'),
          ("VESA up to 400x400", "VESA up to 600x400", "VESA up to 200x200"),
          ("holds 35 kg", "holds 45 kg", "holds 60 kg")),
         (1999, 12999), (2000, 9000),
         ("Puts the TV at eye level and frees up the cabinet below.",
          "Includes hardware for wood studs and solid walls.",
          "Post-installation levelling corrects a slightly crooked hole."),
         (60, LIFETIME_MONTHS), share=3),
    Leaf("monitor-arms", "Monitor Arms", "mount", ("monitor arm", "dual monitor arm", "laptop arm"),
         ("Gas Spring", "Articulating", "Heavy Duty", "Clamp-On"),
         (('for 13-32" Monitors', 'for 17-34" Monitors', 'for Ultrawide up to 49"'),
          ("VESA 75/100", ""), ("Cable Management", "USB Hub", "")),
         (2999, 14999), (2500, 8000),
         ("Lifts the screen off the desk and moves it with a fingertip.",
          "Set the height once and the spring holds it there."),
         (36, LIFETIME_MONTHS), ("Black", "White", "Silver"), 2, share=3),
    Leaf("projector-mounts", "Projector Mounts", "mount",
         ("projector ceiling mount", "projector wall mount", "universal projector mount"),
         ("Adjustable", "Low-Profile", "Extendable"),
         (("holds 10 kg", "holds 15 kg", "holds 20 kg"),
          ("360 Degree Rotation", "Tilt and Swivel", "")),
         (1999, 8999), (1200, 4000),
         ("Hangs a projector securely above a home theatre or meeting room.",
          "Fine adjustment squares the picture without moving the mount."),
         (24, 60), ("White", "Black"), 1, share=2),
))

TOOLS = Top("tools", "Tools", "Tools for building, testing and tidying cabling.", "#f3dede", (
    Leaf("crimpers-strippers", "Crimpers & Strippers", "tool",
         ("RJ45 crimping tool", "wire stripper", "coax compression tool", "punch-down tool"),
         ("Ratcheting", "Pass-Through", "Professional", "Compact"),
         (("for Cat5e, Cat6", "for Cat6a, Cat7", "for 10-24AWG", "110 and 66 Blades"),
          ("with Cable Cutter", "with Spare Blades", "")),
         (999, 4999), (150, 500),
         ("Makes reliable terminations on the first try.",
          "The ratchet will not release until the crimp is complete."),
         (12, LIFETIME_MONTHS), share=2),
    Leaf("cable-testers", "Cable Testers", "box",
         ("network cable tester", "tone generator and probe kit", "PoE tester"),
         ("Handheld", "Multi-Function", "Professional"),
         (("RJ45, RJ11", "RJ45, BNC, RJ11", "Wiremap and Length"),
          ("with Remote Unit", "Battery Included", "")),
         (1499, 8999), (150, 600),
         ("Finds opens, shorts and crossed pairs in seconds.",
          "The remote unit tests runs that end in another room."),
         (12, 24), share=2),
    Leaf("screwdriver-kits", "Screwdriver Kits", "tool",
         ("precision screwdriver kit", "electronics repair tool kit", "ratcheting screwdriver set"),
         ("64-Piece", "120-Piece", "32-Piece", "Magnetic"),
         (("S2 Steel Bits", "Chrome Vanadium Bits"),
          ("with Flexible Extension", "with Spudgers", "Magnetic Case", "")),
         (999, 4999), (200, 900),
         ("Opens laptops, phones, consoles and game controllers.",
          "Every bit is labelled and has its own place in the case."),
         (12, LIFETIME_MONTHS), share=2),
    Leaf("cable-management", "Cable Management", "coil",
         ("hook and loop cable ties", "cable sleeve", "cable raceway", "under-desk cable tray",
          "cable clips"),
         ("Reusable", "Adhesive", "Heavy Duty", "Braided"),
         (("100-Pack", "50-Pack", "25-Pack", "2 m", "3 m"),),
         (499, 3499), (80, 1500),
         ("Tames the tangle behind a desk or TV.",
          "Reusable ties make it easy to add one more cable later."),
         (12,), ("Black", "White", "Grey", "Blue"), 3, share=3),
))

COMPUTER = Top("computer-accessories", "Storage & Computer Accessories",
               "Keyboards, mice, drive enclosures, hubs and storage.", "#dff1f3", (
    Leaf("keyboards", "Keyboards", "keyboard",
         ("mechanical keyboard", "wireless keyboard", "keyboard & mouse combo", "compact keyboard"),
         ("Full-Size", "Tenkeyless", "75%", "Low-Profile", "Ergonomic"),
         (("Brown Switches", "Red Switches", "Scissor Switches", "Silent Keys"),
          ("USB-C", "2.4GHz and Bluetooth", "Backlit", "")),
         (1999, 12999), (400, 1200),
         ("Comfortable for long typing sessions.",
          "Works without drivers on Windows, macOS and Linux.",
          "Keycaps are double-shot so legends never wear off."),
         (12, 24), ("Black", "White", "Grey"), 3, share=3),
    Leaf("mice", "Mice", "mouse",
         ("wireless mouse", "ergonomic vertical mouse", "gaming mouse", "trackball mouse",
          "travel mouse"),
         ("Silent", "Rechargeable", "Ambidextrous", "Lightweight"),
         (("1600 DPI", "4000 DPI", "16000 DPI"), ("2.4GHz", "Bluetooth", "USB-C Wired"),
          ("6 Buttons", "")),
         (999, 7999), (60, 150),
         ("Glides precisely on almost any surface.",
          "Quiet switches keep clicks from carrying across the office."),
         (12, 24), ("Black", "White", "Grey", "Blue", "Pink"), 3, share=3),
    Leaf("drive-enclosures", "Drive Enclosures", "box",
         ('2.5" SATA SSD enclosure', "M.2 NVMe SSD enclosure", '3.5" hard drive enclosure',
          "dual-bay drive dock"),
         ("Tool-Free", "Aluminum", "Fanless"),
         (("USB 3.2 Gen 2, 10Gbps", "USB 3.2 Gen 1, 5Gbps", "USB4, 40Gbps"),
          ("UASP, TRIM", "with USB-C and USB-A Cables", "")),
         (1299, 7999), (80, 900),
         ("Turns a spare drive into fast portable storage.",
          "The aluminium shell draws heat away from the drive."),
         (12, 24), share=2),
    Leaf("usb-hubs", "USB Hubs & Docks", "adapter",
         ("USB-C hub", "USB 3.0 hub", "powered USB hub", "USB-C docking station"),
         ("4-Port", "7-Port", "10-Port", "6-in-1", "8-in-1", "11-in-1"),
         (("with HDMI 4K@60Hz", "with 100W PD Passthrough", "with Individual Switches",
           "with SD Card Reader"), ("Aluminum", "")),
         (1499, 14999), (60, 500),
         ("Adds the ports a thin laptop left out.",
          "Pass-through charging powers the laptop through the hub."),
         (12, 24), ("Grey", "Silver", "Black"), 1, share=3),
    Leaf("flash-drives-memory-cards", "Flash Drives & Memory Cards", "box",
         ("USB flash drive", "microSD card", "SD card", "USB-C flash drive"),
         ("32GB", "64GB", "128GB", "256GB", "512GB"),
         (("USB 3.2 Gen 1", "UHS-I U3, V30", "UHS-II, V60", "A2, V30"),
          ("Up to 150MB/s", "Up to 200MB/s", "Up to 400MB/s", "")),
         (599, 5999), (2, 20),
         ("Carries photos, videos and backups in a pocket.",
          "Rated for thousands of write cycles."),
         (12, 60), share=2),
))

CATALOG: tuple[Top, ...] = (
    CABLES, ADAPTERS, NETWORKING, AUDIO_VIDEO, POWER, MOUNTS, TOOLS, COMPUTER,
)

BRANDS = (
    "Quietline", "Corelink", "Voltwise", "Brightwire", "Ferrolane", "Kestrel",
    "Halden", "Mosswood", "Pinefield", "Arcwell", "Stonebridge", "Tallgrass",
)

COLOURS: dict[str, tuple[str, str]] = {  # name: (SKU code, image colour)
    "Black": ("BLK", "#26282c"), "White": ("WHT", "#f6f6f3"), "Blue": ("BLU", "#2f6fd0"),
    "Red": ("RED", "#c8383b"), "Grey": ("GRY", "#8a9099"), "Green": ("GRN", "#3a9a5b"),
    "Yellow": ("YEL", "#f2c230"), "Orange": ("ORG", "#ee7f2d"), "Purple": ("PUR", "#7b4fb8"),
    "Silver": ("SLV", "#c4c8cc"), "Aqua": ("AQU", "#3cc6cf"), "Lime": ("LIM", "#9ccc3c"),
    "Pink": ("PNK", "#e98bb0"), "Walnut": ("WAL", "#7a5233"),
}
# fmt: on

_CLOSING_SENTENCES = (
    "Ships in recyclable, plastic-free packaging.",
    "Every unit is tested before it leaves the warehouse.",
    "Designed by {brand} and sold directly, without a middleman's markup.",
    "Compliant with RoHS and REACH.",
    "Backed by {brand}'s support team, who answer by mail within one working day.",
)

_STOCK_LEVELS = (2, 5, 8, 12, 18, 25, 40, 60, 85, 120, 200, 350, 600)


# ---------------------------------------------------------------- loading


def load_demo_catalog(
    session: Session,
    images_dir: Path,
    *,
    seed: int = 2004,
    product_count: int = 1200,
    currency: str = "USD",
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Create the demo categories and ``product_count`` products, and write their images.

    Works inside the caller's transaction and does not commit. Raises ``DemoCatalogExists``
    if the catalog already has products. Demo categories that already exist (by slug) are
    reused. Image files in ``images_dir`` with the same names are overwritten.
    """
    if product_count < 0:
        raise ValueError("product_count must not be negative")
    _ensure_no_products(session)
    category_count = _create_categories(session)
    images_dir.mkdir(parents=True, exist_ok=True)
    # Reproducible demo data, not secrets: a seeded generator is exactly what is wanted.
    rng = random.Random(seed)  # noqa: S311
    variant_count = 0
    for index, (top, leaf) in enumerate(_leaf_sequence(rng, product_count)):
        draft, svg = _product(rng, top, leaf, FIRST_SKU_NUMBER + index, currency)
        (images_dir / f"{draft.sku.lower()}.svg").write_bytes(svg.encode("utf-8"))
        create_product(session, draft)
        variant_count += len(draft.variants)
        if progress is not None:
            progress(index + 1, product_count)
    return DemoSummary(category_count, product_count, variant_count)


def _ensure_no_products(session: Session) -> None:
    count = session.execute(select(func.count(Product.id))).scalar_one()
    if count:
        raise DemoCatalogExists(count)


def _create_categories(session: Session) -> int:
    """The demo tree, top-level categories in shop order; returns its number of categories."""
    existing = set(session.execute(select(Category.slug)).scalars())
    total = 0
    for position, top in enumerate(CATALOG, start=1):
        if top.slug not in existing:
            create_category(
                session, top.slug, top.name, description=top.description, position=position
            )
        for leaf_position, leaf in enumerate(top.leaves, start=1):
            if leaf.slug not in existing:
                create_category(
                    session,
                    leaf.slug,
                    leaf.name,
                    parent_slug=top.slug,
                    description=leaf.blurb[0],
                    position=leaf_position,
                )
        total += 1 + len(top.leaves)
    return total


def _leaf_sequence(rng: random.Random, count: int) -> Iterator[tuple[Top, Leaf]]:
    """Which leaf each product belongs to: every leaf once (shuffled), then by share.

    The first pass fills every category even in a small demo. Later leaves are drawn
    lazily, between products, so a smaller catalog is a prefix of a larger one with the
    same seed.
    """
    pairs = [(top, leaf) for top in CATALOG for leaf in top.leaves]
    first = pairs[:]
    rng.shuffle(first)
    yield from first[:count]
    shares = [leaf.share for _, leaf in pairs]
    for _ in range(count - len(first)):
        yield rng.choices(pairs, weights=shares)[0]


# ---------------------------------------------------------------- one product


def _product(
    rng: random.Random, top: Top, leaf: Leaf, number: int, currency: str
) -> tuple[ProductDraft, str]:
    sku = f"QS-{number}"
    noun = rng.choice(leaf.nouns)
    brand = rng.choice(BRANDS)
    name = _product_name(rng, leaf, noun)
    base_price = rng.randint(*leaf.price)
    grams = rng.randint(*leaf.grams)
    warranty = rng.choice(leaf.warranties)
    colours = _colour_run(rng, leaf)
    variants = _variants(rng, leaf, sku, base_price, grams, colours)
    # The picture shows the first variant: its colour and, for a cable, its length.
    length = str(variants[0].options.get("length", ""))
    alt = " ".join(part for part in (colours[0], length, noun) if part) + ", product illustration"
    draft = ProductDraft(
        sku=sku,
        slug=f"{_slugify(name)}-{number}",
        name=name,
        category_slug=leaf.slug,
        variants=variants,
        currency=currency,
        description=_description(rng, leaf, brand, variants),
        brand=brand,
        warranty_months=warranty,
        warranty_terms=_warranty_terms(warranty, brand),
        image_file=f"{sku.lower()}.svg",
        image_alt=alt,
        created_at=_created_at(rng),
    )
    fill = COLOURS[colours[0]][1]
    svg = render_svg(leaf.kind, top.background, fill, _title(noun), brand, sku, alt)
    return draft, svg


def _created_at(rng: random.Random) -> datetime:
    # Whole seconds before a fixed date, so "newest first" is the same on every run.
    return CATALOG_EPOCH - timedelta(seconds=rng.randrange(int(CATALOG_SPAN.total_seconds())))


_LOWER_IN_TITLES = frozenset({"and", "for", "of", "to", "with"})


def _title(text: str) -> str:
    """Title case that leaves acronyms (HDMI, USB-C) and short joining words alone."""
    return " ".join(
        word
        if word in _LOWER_IN_TITLES
        else "-".join(part[:1].upper() + part[1:] for part in word.split("-"))
        for word in text.split()
    )


def _product_name(rng: random.Random, leaf: Leaf, noun: str) -> str:
    specs = [pick for group in leaf.specs if (pick := rng.choice(group))]
    return ", ".join([f"{rng.choice(leaf.adjectives)} {_title(noun)}", *specs])


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    # Leave room for "-<sku number>" within the 160-character column.
    return slug[:120].rstrip("-")


# ---------------------------------------------------------------- variants and prices


def store_price(raw_cents: int) -> int:
    """The nearest shelf price at or above ``raw_cents``: x.49 or x.99, or x.99 from 100.00."""
    step = 50 if raw_cents < 10_000 else 100
    return step * (max(raw_cents, 0) // step + 1) - 1


def _colour_run(rng: random.Random, leaf: Leaf) -> list[str]:
    """Some of the leaf's colours, kept in the leaf's order so Black usually comes first."""
    count = rng.randint(1, min(leaf.max_colours, len(leaf.colours)))
    picked = set(rng.sample(leaf.colours, count))
    return [colour for colour in leaf.colours if colour in picked]


def _length_run(rng: random.Random, lengths: tuple[float, ...]) -> tuple[float, ...]:
    """A contiguous run of three to six lengths, as a shop would stock them."""
    size = rng.randint(min(3, len(lengths)), min(6, len(lengths)))
    start = rng.randint(0, len(lengths) - size)
    return lengths[start : start + size]


def _length_label(metres: float) -> str:
    return f"{metres:g} m"


def _length_code(metres: float) -> str:
    # SKUs avoid dots: 0.5 m is "50CM", 2 m is "2M".
    return f"{int(metres)}M" if metres == int(metres) else f"{round(metres * 100)}CM"


@dataclass(frozen=True)
class _Offer:
    """What every variant of one product shares: sold out or not, and its sale markup."""

    sold_out: bool
    markup: float | None

    @classmethod
    def draw(cls, rng: random.Random) -> _Offer:
        sold_out = rng.random() < OUT_OF_STOCK_SHARE
        on_sale = rng.random() < SALE_SHARE
        return cls(sold_out, rng.choice((1.2, 1.25, 1.3, 1.4, 1.5)) if on_sale else None)

    def variant(
        self, rng: random.Random, sku: str, price: int, grams: int, options: dict[str, str]
    ) -> VariantDraft:
        # Single variants sell out too, not only whole products.
        stock = 0 if self.sold_out or rng.random() < 0.05 else rng.choice(_STOCK_LEVELS)
        was = None
        if self.markup is not None:
            was = max(store_price(int(price * self.markup)), price + 50)
        return VariantDraft(
            sku=sku,
            price_cents=price,
            stock=stock,
            label=", ".join(options.values()),
            options=options,
            was_price_cents=was,
            weight_grams=grams,
        )


def _variants(
    rng: random.Random, leaf: Leaf, sku: str, base_price: int, grams: int, colours: list[str]
) -> list[VariantDraft]:
    """A cable: one variant per length and colour. Otherwise one per colour, or just one."""
    offer = _Offer.draw(rng)
    if leaf.lengths:
        return _cable_variants(rng, leaf, offer, sku, base_price, grams, colours)
    price = store_price(base_price)
    if len(colours) == 1:  # no options: the variant's SKU is the product's
        return [offer.variant(rng, sku, price, grams, {})]
    return [
        offer.variant(rng, f"{sku}-{COLOURS[colour][0]}", price, grams, {"colour": colour})
        for colour in colours
    ]


def _cable_variants(
    rng: random.Random,
    leaf: Leaf,
    offer: _Offer,
    sku: str,
    base_price: int,
    grams: int,
    colours: list[str],
) -> list[VariantDraft]:
    """Longer costs more and weighs more; colours of one length cost the same."""
    variants: list[VariantDraft] = []
    per_metre = leaf.per_metre_cents * rng.uniform(0.8, 1.3)
    previous = -1
    for metres in _length_run(rng, leaf.lengths):
        # Strictly rising even where two raw prices round to the same shelf price.
        price = max(store_price(int(base_price + per_metre * metres)), previous + 50)
        previous = price
        weight = grams + round(leaf.per_metre_grams * metres)
        for colour in colours:
            options = {"length": _length_label(metres), "colour": colour}
            variant_sku = f"{sku}-{_length_code(metres)}-{COLOURS[colour][0]}"
            variants.append(offer.variant(rng, variant_sku, price, weight, options))
    return variants


# ---------------------------------------------------------------- texts


def _description(
    rng: random.Random, leaf: Leaf, brand: str, variants: Sequence[VariantDraft]
) -> str:
    sentences = rng.sample(leaf.blurb, min(2, len(leaf.blurb)))
    lengths = _option_values(variants, "length")
    colours = _option_values(variants, "colour")
    if lengths:
        sentences.append(f"Available in {len(lengths)} lengths from {lengths[0]} to {lengths[-1]}.")
    if len(colours) > 1:
        sentences.append(f"Comes in {', '.join(colours[:-1])} and {colours[-1]}.")
    sentences.append(rng.choice(_CLOSING_SENTENCES).format(brand=brand))
    return " ".join(sentences)


def _option_values(variants: Sequence[VariantDraft], key: str) -> list[str]:
    """Distinct values of one option, in variant order."""
    return list(dict.fromkeys(str(v.options[key]) for v in variants if key in v.options))


def _warranty_terms(months: int, brand: str) -> str:
    exclusions = (
        "It does not cover damage from accidents, misuse, modification or normal wear. "
        "To claim, write to us with your order number; we pay the return postage."
    )
    if months == LIFETIME_MONTHS:
        return (
            f"Limited lifetime warranty: {brand} repairs or replaces this product if it fails "
            "in normal use for as long as you, the original buyer, own it. Our records show a "
            f"limited lifetime warranty as {LIFETIME_MONTHS} months. {exclusions}"
        )
    return (
        f"{months}-month limited warranty: {brand} repairs or replaces this product if it "
        f"fails in normal use within {months} months of delivery. {exclusions}"
    )


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


def render_svg(
    kind: str, background: str, fill: str, title: str, brand: str, sku: str, alt: str
) -> str:
    """A small self-contained SVG: no scripts, no links, no external fonts or images."""
    size = 22 if len(title) <= 26 else 18
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="400" '
        f'height="300" role="img" aria-label="{_xml(alt)}">'
        f"<title>{_xml(alt)}</title>"
        f'<rect width="400" height="300" fill="{background}"/>'
        f'<g stroke="{_OUTLINE}" stroke-width="3" stroke-linejoin="round">'
        f"{_ICONS[kind].format(fill=fill)}</g>"
        f'<text x="200" y="240" text-anchor="middle" font-family="sans-serif" '
        f'font-size="{size}" font-weight="bold" fill="{_OUTLINE}">{_xml(title)}</text>'
        f'<text x="200" y="268" text-anchor="middle" font-family="sans-serif" '
        f'font-size="14" fill="#3b4a5a">{_xml(brand)} \u00b7 {_xml(sku)}</text>'
        "</svg>\n"
    )
