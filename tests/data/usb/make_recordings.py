#!/usr/bin/env python3
"""Writes the umockdev recordings of tests/data/usb/ (run from anywhere;
the output is committed, rerun after editing the scans below).

*.umockdev  sysfs + udev description of a device, the format of
            `umockdev-record /dev/bus/usb/BBB/DDD` (P: path, N: node,
            E: udev property, A: attribute, H: binary attribute in hex).
*.ioctl     usbdevfs traffic in umockdev's ioctl-tree format, as
            `umockdev-record --ioctl /dev/bus/usb/BBB/DDD=F.ioctl` writes it:
            one `USBDEVFS_REAPURB type endpoint status flags buffer_length
            actual_length error_count data-hex` line per reaped URB. type 1
            is interrupt, endpoint 129 is 0x81 (IN), status -108 is
            -ESHUTDOWN: the kernel's answer when the device is unplugged
            while the URB is pending.

The tests (tests/integration/usb_scanner_test.cpp) replay the IN URBs of an
.ioctl file in order, one per interrupt-IN URB libusb submits.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# HID POS (usage page 0x8C) report descriptor: one 64-byte input report,
# report id 2, the "scanned data report" layout these files use:
#   [0] report id 2   [1] data length in this report   [2..4] AIM symbology id
#   [5..60] data (56 bytes)   [61..62] reserved   [63] bit0: more data follows
HID_POS_REPORT_DESCRIPTOR = bytes.fromhex(
    "058c"          # Usage Page (Barcode Scanner)
    "0902"          # Usage (Barcode Scanner)
    "a101"          # Collection (Application)
    "8502"          #   Report ID (2)
    "0912"          #   Usage (Scanned Data Report)
    "a102"          #   Collection (Logical)
    "150026ff00"    #     Logical Minimum (0), Logical Maximum (255)
    "7508953f"      #     Report Size (8), Report Count (63)
    "09fe"          #     Usage (0xFE, scanned data)
    "8102"          #     Input (Data, Var, Abs)
    "c0"            #   End Collection
    "8503"          #   Report ID (3): output, beeper/LED
    "7508950409ff"  #   Report Size (8), Report Count (4), Usage (0xFF)
    "9102"          #   Output (Data, Var, Abs)
    "c0")           # End Collection


def hid_pos_reports(aim, data):
    """The 64-byte reports of one scan, continued across reports."""
    out = []
    chunks = [data[i:i + 56] for i in range(0, len(data), 56)] or [b""]
    for n, chunk in enumerate(chunks):
        r = bytearray(64)
        r[0] = 2
        r[1] = len(chunk)
        r[2:5] = aim
        r[5:5 + len(chunk)] = chunk
        r[63] = 1 if n + 1 < len(chunks) else 0
        out.append(bytes(r))
    return out


US_KEYS = {**{chr(ord("a") + i): (0, 0x04 + i) for i in range(26)},
           **{chr(ord("A") + i): (0x02, 0x04 + i) for i in range(26)},
           **{str(d): (0, 0x1E + d - 1) for d in range(1, 10)}, "0": (0, 0x27),
           "\n": (0, 0x28), "-": (0, 0x2D), ":": (0x02, 0x33)}


def keyboard_reports(text):
    """Boot-keyboard reports (modifiers, reserved, 6 key codes) typing text,
    each key pressed then released, as a wedge scanner sends them."""
    out = []
    for ch in text:
        mod, key = US_KEYS[ch]
        out.append(bytes([mod, 0, key, 0, 0, 0, 0, 0]))
        out.append(bytes(8))
    return out


def reap_line(report, status=0):
    return "USBDEVFS_REAPURB 1 129 %d 0 %d %d 0 %s" % (
        status, len(report) if status == 0 else 64, len(report) if status == 0 else 0,
        report.hex().upper() if status == 0 else "")


def ioctl_file(name, dev, lines):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("@DEV %s\n" % dev)
        for line in lines:
            f.write(line.rstrip() + "\n")


def device_description(name, vid, pid, cls, sub, proto, packet, report_descriptor, product):
    """A full-speed USB device at 1-1 with one HID interface and its HID
    child (which carries the report descriptor, as usbhid publishes it)."""
    rd_len = len(report_descriptor)
    descriptors = (
        bytes([18, 1, 0x00, 0x02, 0, 0, 0, 64]) + vid.to_bytes(2, "little") + pid.to_bytes(2, "little") +
        bytes([0x00, 0x01, 1, 2, 3, 1]) +
        bytes([9, 2, 34, 0, 1, 1, 0, 0x80, 50]) +
        bytes([9, 4, 0, 0, 1, cls, sub, proto, 0]) +
        bytes([9, 0x21, 0x11, 0x01, 0, 1, 0x22]) + rd_len.to_bytes(2, "little") +
        bytes([7, 5, 0x81, 3]) + packet.to_bytes(2, "little") + bytes([1]))
    usb = "/devices/pci0000:00/0000:00:14.0/usb1/1-1"
    hid = "%s/1-1:1.0/0003:%04X:%04X.0001" % (usb, vid, pid)
    text = """P: {usb}
N: bus/usb/001/002
E: BUSNUM=001
E: DEVNAME=/dev/bus/usb/001/002
E: DEVNUM=002
E: DEVTYPE=usb_device
E: DRIVER=usb
E: ID_VENDOR_ID={vid:04x}
E: ID_MODEL_ID={pid:04x}
E: PRODUCT={vid:x}/{pid:x}/100
E: SUBSYSTEM=usb
A: bConfigurationValue=1\\n
A: bDeviceClass=00\\n
A: bNumConfigurations=1\\n
A: busnum=1\\n
A: devnum=2\\n
A: idProduct={pid:04x}\\n
A: idVendor={vid:04x}\\n
A: product={product}\\n
A: speed=12\\n
H: descriptors={desc}

P: {usb}/1-1:1.0
E: DEVTYPE=usb_interface
E: DRIVER=usbhid
E: INTERFACE={cls}/{sub}/{proto}
E: SUBSYSTEM=usb
A: bInterfaceClass={cls:02x}\\n
A: bInterfaceNumber=00\\n
A: bInterfaceProtocol={proto:02x}\\n
A: bInterfaceSubClass={sub:02x}\\n

P: {hid}
E: DRIVER=hid-generic
E: HID_ID=0003:0000{vid:04X}:0000{pid:04X}
E: SUBSYSTEM=hid
H: report_descriptor={rd}
""".format(usb=usb, hid=hid, vid=vid, pid=pid, cls=cls, sub=sub, proto=proto, product=product,
           desc=descriptors.hex().upper(), rd=report_descriptor.hex().upper())
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


KEYBOARD_REPORT_DESCRIPTOR = bytes.fromhex(
    "05010906a101050719e029e71500250175019508810295017508810195067508150025650507190029658100c0")

DEV = "/dev/bus/usb/001/002"

# A Honeywell-VID HID POS scanner (0x0c2e; the PID is an example).
device_description("hid-pos-scanner.umockdev", 0x0C2E, 0x0B61, 3, 0, 0, 64, HID_POS_REPORT_DESCRIPTOR,
                   "HID POS Scanner")
# A GS1-128 scan long enough to need two reports, then an EAN-13.
GS1 = b"0109506000134352\x1d10L42\x1d17261231\x1d21SERIAL000000000000000000000000042"
ioctl_file("hid-pos-scan.ioctl", DEV,
           [reap_line(r) for r in hid_pos_reports(b"]C1", GS1) + hid_pos_reports(b"]E0", b"4006381333931")])
# Unplugged between the two reports of the GS1-128 scan.
ioctl_file("hid-pos-unplug.ioctl", DEV,
           [reap_line(hid_pos_reports(b"]C1", GS1)[0]), reap_line(bytes(64), status=-108)])
# Suspend/resume: two low-level errors (-EPROTO = -71), then the EAN-13.
ioctl_file("hid-pos-resume.ioctl", DEV,
           [reap_line(bytes(64), status=-71), reap_line(bytes(64), status=-71)] +
           [reap_line(r) for r in hid_pos_reports(b"]E0", b"4006381333931")])

# A Zebra/Symbol-VID scanner in keyboard-wedge (HID boot keyboard) mode.
device_description("keyboard-scanner.umockdev", 0x05E0, 0x1200, 3, 1, 1, 8, KEYBOARD_REPORT_DESCRIPTOR,
                   "Wedge Scanner")
ioctl_file("keyboard-scan.ioctl", DEV, [reap_line(r) for r in keyboard_reports("OP:alice\n4006381333931\n")])
# The same scanner set to send no suffix: a scan ends when the keys stop
# (suffix = "none", suffix_timeout_ms).
ioctl_file("keyboard-nosuffix.ioctl", DEV, [reap_line(r) for r in keyboard_reports("OP:alice")])
