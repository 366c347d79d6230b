"""Recreate samples/bbb_320x180.mp4 from Big Buck Bunny (CC-BY 3.0, Blender Foundation).

Usage: python samples/make_sample.py ../shared/data/video/bigbuckbunny_720p.mp4 samples/bbb_320x180.mp4
The picture is shrunk to 320x180 and re-encoded with x264; the AAC sound track is copied as is.
"""
import sys

import av


def main(source: str, target: str) -> None:
    with av.open(source) as src, av.open(target, "w") as dst:
        vin, ain = src.streams.video[0], src.streams.audio[0]
        vout = dst.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = 320, 180, "yuv420p"
        vout.time_base = vin.time_base
        vout.options = {"crf": "18", "preset": "slow"}
        aout = dst.add_stream_from_template(ain)
        dst.metadata["title"] = "Big Buck Bunny (CC-BY 3.0, Blender Foundation), 320x180 excerpt"
        for packet in src.demux(vin, ain):
            if packet.stream is ain:
                if packet.dts is not None:
                    packet.stream = aout
                    dst.mux(packet)
                continue
            for frame in packet.decode():
                small = frame.reformat(width=320, height=180, interpolation="AREA")
                small.pts, small.time_base = frame.pts, frame.time_base
                dst.mux(vout.encode(small))
        dst.mux(vout.encode(None))


if __name__ == "__main__":
    main(*sys.argv[1:3])
