"""The demo catalog's recipe: categories, product kinds, brands and colours (data only)."""

from __future__ import annotations

from dataclasses import dataclass

LIFETIME_MONTHS = 120  # "limited lifetime" is stored as ten years; the terms text says so

_EXCLUSIONS = (
    "It does not cover damage from accidents, misuse, modification or normal wear. "
    "To claim, write to us with your order number; we pay the return postage."
)


def warranty_terms(months: int, brand: str) -> str:
    """A product's warranty text, made from its months alone, so the two cannot disagree:
    every period the text names is ``months`` (a "lifetime" only for ``LIFETIME_MONTHS``,
    which the text says is how it is stored; years only where they are whole)."""
    if months == LIFETIME_MONTHS:
        return (
            f"Limited lifetime warranty: {brand} repairs or replaces this product if it fails "
            "in normal use for as long as you, the original buyer, own it. Our records show a "
            f"limited lifetime warranty as {LIFETIME_MONTHS} months. {_EXCLUSIONS}"
        )
    if months <= 0:
        return (
            f"{brand} gives no warranty of its own on this product; your statutory rights "
            "apply in full."
        )
    years = months // 12
    within = f"{months} months"
    if months % 12 == 0:
        within += f" ({years} year{'' if years == 1 else 's'})"
    # The text opens with the claim the product page's headline already makes, so the page
    # can drop it (service.warranty_details); the years follow only as a reading aid.
    return (
        f"{months}-month limited warranty: {brand} repairs or replaces this product if it "
        f"fails in normal use within {within} of delivery. {_EXCLUSIONS}"
    )


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
