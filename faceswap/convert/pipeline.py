"""Run convert over one input: decode -> find faces -> stabilise -> swap/reenact -> blend -> encode.

Three stages overlap: ffmpeg decodes in its own process and a reader
thread; a face thread finds, selects and stabilises faces (it looks a few
frames ahead, see stabilize.py); this thread batches faces through the model,
blends them into their frames and hands the frames to the writer, whose
encoder runs in another ffmpeg process. Every stage holds a fixed number of
frames, so memory does not grow with the video's length.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .. import defaults
from ..credentials import sign_output, signing_for
from ..errors import FaceswapError, NoFaceError
from ..faces.backends import make_backend
from ..faces.geometry import box_matrix, compose, transform_points, warp
from ..faces.types import Face
from ..interrupts import HeldStop, held_until_safe
from ..log import get_logger
from ..media.audio import AudioSource, audio_decisions, probe_audio
from ..media.codecs import CODECS
from ..media.images import write_png
from ..media.output_plan import plan_for
from ..media.plates import Plate
from ..media.sequence import PlateSequence, output_pattern, plates_pattern
from ..media.source import FrameSource, check_source
from ..media.timecode import read_timecode, shift_timecode, smpte_timecode
from ..media.timing import variable_timeline
from ..media.writers import FrameWriter, Patch, open_writer
from ..media.writers.png import png_text
from . import occlusion
from .composite import CompositeSettings, Placed, color_weights, composite_plate, crop_mask, crop_taper, lay_out
from .edge_steady import EdgeSteadier, Rendered, reach
from .expression_fit import Drawn, ExpressionFit, FitWindow, fit_reach, irises
from .faces_in import FaceProvider, TargetSelector
from .glasses import KEY as GLASSES
from .glasses import mark_glasses
from .marking import Marker, output_id, resolve_mode
from .occluded_landmarks import OccludedLandmarks
from .occlusion import KEY as OCCLUSION
from .occlusion import REACH, CoveredFaces, CropView, blend_occlusion, crop_view, face_key, smooth_occlusion
from .options import ConvertOptions, parse_frames
from .reference_detail import scale_for
from .stabilize import CutDetector, FrameItem, Stabilizer
from .summary import ConvertSummary
from .swapper import Swapper

log = get_logger(__name__)

# Frames waiting between the face thread and the model: enough to keep both busy.
QUEUE_FRAMES = 8
# FrameItem.extra key of a frame's plate (its own pixels, when they are not 8-bit working-space RGB)
PLATE = "plate"
_END = object()


def _threaded(items: Iterator, maxsize: int) -> Iterator:
    """Run a generator in a thread, handing its items over through a bounded queue;
    its exceptions are re-raised here."""
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            failure.append(err)
        finally:
            q.put(_END)

    thread = threading.Thread(target=run, name="convert-faces", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        if hasattr(items, "close"):
            items.close()
    if failure:
        raise failure[0]


class Converter:
    """One convert job. `run()` writes the output; `preview(n)` writes one frame as PNG.

    `swapper`: a model already loaded from `model_dir` (batch workers load each model once);
    `on_frames(n)`: called after each batch of n frames is written (batch's frame progress);
    `write_range` (START, END): write only those frames of the ones read (options.frames),
    the rest being the stabiliser's context; no face in them is no error (convert/segments.py)."""

    def __init__(self, input_path: str | Path, model_dir: str | Path, output: str | Path,
                 options: ConvertOptions | None = None, progress: bool = True, *, swapper: Swapper | None = None,
                 on_frames: Callable[[int], None] | None = None, write_range: tuple[int, int] | None = None,
                 mark_id: int | None = None) -> None:
        self.options = options or ConvertOptions()
        self.options.validate()
        self.input = Path(input_path)
        # the watermark's output id: a segment is given its whole job's (marking.output_id)
        self.mark_id = mark_id
        self._held = HeldStop()   # run() and preview() hold Ctrl-C / SIGTERM to a frame boundary
        kind = check_source(self.input)
        self.mark_mode = resolve_mode(self.options.watermark, kind)
        self.output = Path(output)
        self.model_dir = Path(model_dir)
        self.progress = progress
        sequence = kind == "sequence"
        if self.output.resolve() == self.input.resolve():
            raise FaceswapError("the output must not be the input")
        if self.output.exists() and not self.options.overwrite and self.options.preview is None and not sequence:
            # before loading anything: the writer checks again, this saves the wait (a sequence's
            # writer checks each of its frames: a folder of plates may hold other shots)
            raise FaceswapError(f"{self.output} exists: pass --overwrite to replace it")
        if self.options.preview is not None and not self._preview_stem.parent.is_dir():
            # the PNGs go beside the output: said now, not after the frames are rendered
            raise FaceswapError(f"cannot write the preview of {self.output}: folder "
                                f"{self._preview_stem.parent} does not exist")
        # one probe before the model loads: rotation, codec and chroma, each said in one line
        self.plan = plan_for(self.input, None if self.options.preview is not None else self.output, self.options.codec,
                             self.options.tonemap)
        # the C2PA signing key, checked now; a segment is not signed: its joined whole is
        self.signing = signing_for(self.options, self.output) \
            if self.options.preview is None and write_range is None else None
        self.swapper = swapper if swapper is not None else Swapper(model_dir, self.options.device)
        self.on_frames = on_frames
        self.write_range = write_range
        self.start, self.end = parse_frames(self.options.frames)
        self.settings = CompositeSettings(self.options.mask, self.options.landmark_mask, self.options.erode,
                                          self.options.blur, self.options.color, self.options.blend,
                                          self.options.color_from, self.options.occlusion_grow,
                                          self.options.edge_match, self.options.grain)
        if self.options.mode == "reenact" and self.options.region != "face":
            self.settings.landmark_mask = self.options.region
        if self.settings.mask == "occlusion" and not self.swapper.has_occlusion:
            line = (f"model {self.model_dir.name} has no occlusion net (trained before it existed): --mask both "
                    f"instead of occlusion, so whatever covers a face is swapped with it")
            log.warning("%s", line)
            self.plan.notes.append(f"mask: {line}")   # the record says the mask that was used
            self.settings.mask = "both"
        self._backends: list = []
        self.covered = CoveredFaces()
        self.footage_side: str | None = None
        self.render_side: str | None = None
        if self.options.mode == "swap":
            self.render_side = self.options.to or defaults.CONVERT_TO
            self.footage_side = "a" if self.render_side == "b" else "b"
        elif self.options.to:
            self.footage_side = self.render_side = self.options.to
        # B's own detail (convert/reference_detail.py): read now, so a damaged file stops the run here
        self.references = self.swapper.references if self.options.detail == "reference" \
            and self.options.mode == "swap" and self.render_side == "b" else None
        # the footage's expression (convert/expression_fit.py): swaps only; a reenactment's render
        # follows its driver's expression by design
        self._fit: ExpressionFit | None = None

    # -- faces ---------------------------------------------------------------------------

    def _backend(self):
        backend = make_backend(self.options.detector, self.options.confidence)
        self._backends.append(backend)
        return backend

    @property
    def fit_reach(self) -> int:
        """Frames either side whose renders the expression fit's window reads (0 when off)."""
        return fit_reach(self.options)

    @property
    def expression_fit(self) -> ExpressionFit | None:
        """The render-to-footage expression warp, with its own detector (made on first use: the
        render runs beside the threads that detect faces), or None when off or reenacting."""
        if not self.fit_reach:
            return None
        if self._fit is None:
            self._fit = ExpressionFit(self._backend())
        return self._fit

    def _hold(self, stabilizer: Stabilizer) -> int:
        # frames alive at once: the look-aheads, the queue to the model, a batch, the driver pairing
        # (and the edge match's window: a batch and its reach wait to be blended)
        return (stabilizer.ahead + 2 * REACH + QUEUE_FRAMES + 2 * self.options.batch_size + 4
                + reach(self.options.edge_steady) + self.fit_reach)

    def _stabilised(self, path: Path, start: int, end: int | None, select: bool) -> Iterator[FrameItem]:
        """Frames of `path` from `start` to `end`, with their stabilised faces to change."""
        stabilizer = Stabilizer(self.options.smooth, self.options.bridge_gap)
        source = FrameSource(path, start=start, hold=self._hold(stabilizer), colour=self.options)
        self._sources.append(source)
        provider = FaceProvider(path, self.options, self._backend, sequence=source.is_sequence)
        selector = TargetSelector(self.options, self.swapper, self.footage_side or "a", self._backend) \
            if select else None
        cuts = CutDetector()
        # --mask occlusion: a face with a hand or a microphone over it is found again with it painted out
        refind = OccludedLandmarks(self.swapper, self._backend) \
            if select and self.settings.mask == "occlusion" else None
        for frame in source:
            if frame.index < start:
                continue
            if end is not None and frame.index >= end:
                break
            shot = cuts(frame.image)
            faces = provider(frame.image, frame.index, frame.name, shot)
            if selector is not None and faces:
                if self.footage_side is None:
                    self._decide_footage_side(frame.image, faces)
                    selector.side = self.footage_side
                faces = selector(frame.image, faces)
                if refind is not None:
                    faces = refind(frame.image, faces)
            elif faces:
                faces = [max(faces, key=lambda f: f.size)]  # the driver: its main face
            item = FrameItem(frame.index, frame.image, frame.name, faces, shot=shot)
            if frame.plate is not None:
                item.extra[PLATE] = frame.plate
            yield from stabilizer.push(item)
        yield from stabilizer.flush()
        if refind is not None and refind.refound:
            log.info("%d faces with something in front of them found again with it painted out", refind.refound)
        if select:
            self.shots = cuts.shot + 1

    def _decide_footage_side(self, image: np.ndarray, faces: list[Face]) -> None:
        """Reenact without --to: the footage's person is the identity whose decoder rebuilds them best."""
        crops = self.swapper.face_crops(image, faces)
        errors = {side: float(self.swapper.reconstruction_error(crops, side).min()) for side in ("a", "b")}
        self.footage_side = self.render_side = min(errors, key=errors.get)
        log.info("footage identity: %s (reconstruction error a %.4f, b %.4f)", self.footage_side,
                 errors["a"], errors["b"])

    def _driver_items(self) -> Iterator[FrameItem | None]:
        """Reenact: driver frames with their face, as many as asked by --driver-end."""
        driver = Path(self.options.driver)
        last = None
        while True:
            count = 0
            for item in self._stabilised(driver, 0, None, select=False):
                count += 1
                last = item
                yield item
            if count == 0:
                raise FaceswapError(f"cannot read any frame of the driver {driver}")
            if self.options.driver_end == "stop":
                return
            if self.options.driver_end == "hold":
                while True:
                    yield last
            # loop: read it again

    def _items(self, start: int, end: int | None) -> Iterator[FrameItem]:
        footage = self._stabilised(self.input, start, end, select=True)
        if self.options.glasses != "face":
            footage = mark_glasses(footage, self.options.glasses)
        if self.settings.mask == "occlusion":
            footage = smooth_occlusion(footage, self._occlusion_masks)
        if self.options.mode == "swap":
            yield from footage
            return
        drivers = self._driver_items()
        for item in footage:
            driver = next(drivers, None)
            if driver is None:
                break
            if driver.faces and item.faces:
                face = driver.faces[0]
                matrix = self.swapper.matrix(face.landmarks)
                # crop now: the driver's frame buffer is reused once we move on
                item.extra["driver"] = (self.swapper.crop(driver.image, matrix),
                                        transform_points(face.landmarks, matrix))
            yield item
        drivers.close()

    # -- the model and the blend ------------------------------------------------------------

    def _occlusion_masks(self, item: FrameItem) -> dict[int, CropView]:
        """The occlusion net's view of each footage face of a frame, with the crop it saw, by face_key."""
        crops = self.swapper.face_crops(item.image, item.faces)
        visible = self.swapper.occlusion(crops)
        return {face_key(i, face.track): crop_view(visible[i], crops[i]) for i, face in enumerate(item.faces)}

    def _render_batch(self, batch: list[FrameItem]) -> list[Rendered]:
        """Render each frame's faces and lay them out in the frame (composite.lay_out); blending
        waits for the edge match's window (edge_steady.EdgeSteadier)."""
        # (item number, face, matrix, footage crop, model input crop, landmarks in crop, occlusion mask or None)
        jobs = []
        for n, item in enumerate(batch):
            for i, face in enumerate(item.faces):
                matrix = self.swapper.matrix(face.landmarks)
                crop = self.swapper.crop(item.image, matrix)
                lm = [transform_points(face.landmarks, matrix)]
                visible = item.extra.get(OCCLUSION, {}).get(face_key(i, face.track))
                model_in = crop
                if visible is not None and occlusion.FILL_COVERED:
                    model_in = occlusion.fill_covered(crop, visible, lm[0])
                if self.options.mode == "reenact":
                    driver = item.extra.get("driver")
                    if driver is None:
                        continue  # no driver face this frame: the footage passes through
                    model_in = driver[0]
                    lm.append(driver[1])
                kept = item.extra.get(GLASSES, {}).get(face_key(i, face.track))
                jobs.append((n, face, matrix, crop, model_in, lm, visible, kept))
        rendered = [Rendered(item, [], [], []) for item in batch]
        if not jobs:
            return rendered
        rgb, pred = self.swapper.render_output(np.stack([j[4] for j in jobs]), self.render_side)
        references = self.references
        fit = self.expression_fit
        for k, (n, face, matrix, crop, _, lm, occluded, kept) in enumerate(jobs):
            face_rgb, face_pred, size = rgb[k], None if pred is None else pred[k], rgb.shape[1]
            enlarge = self.swapper.enlarge(self.render_side) if size != self.swapper.size else None
            if references is not None:
                scale = scale_for(matrix, references.max_scale)
                if scale > 1:   # shown larger than drawn: enlarged with B's own detail
                    face_rgb = references.enlarge(face_rgb, lm[0], scale)
                    size = face_rgb.shape[0]
                    enlarge = box_matrix((0, 0, self.swapper.size, self.swapper.size), size)
                    if face_pred is not None:
                        face_pred = np.clip(cv2.resize(face_pred, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
            if enlarge is not None:
                # the face is drawn larger than the model's crop: blend its pixels, with colour stats
                # from the footage at the same size, so composite works at the size the face is shown at
                matrix = compose(enlarge, matrix)
                crop = warp(batch[n].image, matrix, size)
                lm = [transform_points(points, enlarge) for points in lm]
            measured = None
            if fit is not None:   # lm[0]: the footage face's landmarks in the render's pixels
                eyes = irises(face.mesh, face.landmarks)
                measured = fit.measure(face_rgb, lm[0], None if eyes is None else transform_points(eyes, matrix))
            out = rendered[n]
            out.faces.append((face, Drawn(matrix, crop, face_rgb, face_pred, lm, occluded, kept, measured)))
            out.keys.append(face.track if face.track >= 0 else None)
            out.sizes.append(size)
        return rendered

    def _lay_out(self, rendered: Rendered, window: FitWindow) -> Rendered:
        """The frame's drawn faces fitted to the footage's expression (steadied over `window`) and laid
        out in the frame (composite.lay_out), ready for the edge match's window."""
        item = rendered.item
        laid = []
        for k, (face, drawn) in enumerate(rendered.faces):
            face_rgb, face_pred, lm, occluded, size = drawn.rgb, drawn.pred, drawn.lm, drawn.occluded, \
                rendered.sizes[k]
            if drawn.fit is not None:
                shift = window.shift(rendered, k)
                face_rgb, face_pred = ExpressionFit.apply(face_rgb, face_pred, drawn.fit, shift)
            # --mask occlusion: the landmark outline here (reaching out to the face the net sees where
            # an occluder made the mesh guess), the net's cut after the feather (composite)
            mask = crop_mask(face_pred if occluded is None else None, lm, size, self.settings)
            factor = blend_occlusion(occluded, size) if occluded is not None else None
            if occluded is not None and len(occluded) != size:
                occluded = cv2.resize(occluded, (size, size), interpolation=cv2.INTER_LINEAR)
            if occluded is not None and self.options.mode == "swap":
                # a reenacted region (the mouth) follows the driver, not the footage's outline
                mask = occlusion.net_outline(mask, occluded, lm[0], crop_taper(size), drawn.crop)
            seen = mask if factor is None else mask * factor    # colour statistics: never from an occluder
            if factor is not None:
                self.covered.add(seen, mask)
            # skin: colour from the footage face's skin (lm[0]); the render is drawn at the same place
            weights = color_weights(seen, lm[0]) if self.settings.color_from == "skin" else seen
            laid.append((face, lay_out(item.image, drawn.matrix, drawn.crop, face_rgb, mask, face.size,
                                       self.settings, weights, occluded, drawn.kept, face.landmarks)))
        rendered.faces = laid
        return rendered

    # -- running --------------------------------------------------------------------------

    def _open_outputs(self, first: FrameItem) -> FrameWriter:
        from ..provenance import build_record, container_tags

        info = self._sources[0].video.info if self._sources[0].video else None
        fps = info.fps if info else plate_rate(first.extra.get(PLATE)) or 25.0
        timeline = variable_timeline(info.path, fps) if info else None  # None: frames at a constant fps
        h, w = first.image.shape[:2]
        inputs = {"input": self.input}
        audio = None
        if self.options.mode == "reenact":
            inputs["driver"] = Path(self.options.driver)
        wanted = self.options.audio_source
        if wanted != "none" and (info is not None or wanted == "driver"):
            audio_path = Path(self.options.driver) if wanted == "driver" else self.input
            start_s = 0.0 if wanted == "driver" else (timeline.seconds(self.start) if timeline else self.start / fps)
            frames = self._expected_frames(info)
            # cut to the picture's length: never -shortest, which drops the last frames
            # when the sound ends a few milliseconds before the picture
            duration = (timeline.span(self.start, frames) if timeline else frames / fps) if frames else None
            audio = AudioSource(audio_path, start_s=start_s, duration_s=duration)
        timecode = read_timecode(self.input) if info is not None else None
        if timecode is not None:   # the footage's timecode, at the first frame written
            timecode = shift_timecode(timecode, self.start, fps)
        plate = first.extra.get(PLATE)
        self.record = build_record(inputs, self.model_dir, self.options.to_dict(), self.options.mode, self.plan.to_dict())
        if audio is not None and self.plan.codec in CODECS and CODECS[self.plan.codec].encoder is not None:
            # what the muxer will do with each sound track, in the record as in the log
            self.record["media"]["decisions"] += audio_decisions(probe_audio(audio.path).codecs,
                                                                 self.output.suffix.lower())
        # the first written frame's timecode: the video's, or a plate's own header (each plate keeps its own)
        self.record["timecode"] = timecode or smpte_timecode(plate.attribute("smpte:TimeCode") if plate else None)
        if plate is not None:   # the space the plates were read as, the default resolved (ACEScg for float)
            colour = self._sources[0].colour
            self.record["plate_space"] = colour.space(plate) or colour.options.working_space
        self.marker = self._marker(self.record)
        tags = container_tags(self.record)
        sequence = self._sources[0].sequence
        # images in (no video info): images out, each under its own name and size
        return open_writer(self.output, self.plan.codec, width=w, height=h, fps=fps, images=info is None,
                           crf=self.options.crf, preset=self.options.preset, audio=audio, metadata=tags,
                           overwrite=self.options.overwrite, inputs=list(inputs.values()), pix_fmt=self.plan.pix_fmt,
                           sar=self.plan.sar, timeline=timeline, timecode=timecode,
                           sequence=self._output_sequence(sequence) if sequence else self._video_plates(info),
                           deep=self.plan.deep, colour=self.plan.colour, tonemap_from=self.plan.tonemap_from,
                           plates=self.plan.plates)

    def _output_sequence(self, source: PlateSequence) -> PlateSequence:
        """Where each plate frame of the --frames range goes (media/sequence.output_pattern)."""
        target = output_pattern(self.output, source)
        end = self.end if self.end is not None else target.frames[-1] + 1
        return dataclasses.replace(target, frames=tuple(f for f in target.frames if self.start <= f < end))

    def _marker(self, record: dict) -> Marker | None:
        """The watermark of this output (None: --watermark off), said in `record`: its id is the
        record's (marking.output_id), or the whole job's for a segment."""
        marker = None
        if self.mark_mode != "off":
            marker = Marker(self.mark_mode, output_id(record) if self.mark_id is None else self.mark_id)
        record["watermark"] = marker.record() if marker else {"mode": "off"}
        return marker

    def _video_plates(self, info) -> PlateSequence | None:
        """A video written as plates (output_plan.PlateFormat): the pattern, holding the plate
        numbers of the frames to write as far as the container counts them."""
        if self.plan.plates is None:
            return None
        first = self.plan.plates.first + self.start
        return plates_pattern(self.output, range(first, first + (self._expected_frames(info) or 1)))

    def _expected_frames(self, info) -> int | None:
        """Frames the output will have (from the containers' counts), or None if unknown."""
        if info is None or info.frame_count <= 0:
            return None
        count = info.frame_count - self.start
        if self.end is not None:
            count = min(count, self.end - self.start)
        if self.options.mode == "reenact" and self.options.driver_end == "stop":
            driver = self._sources[1].video.info if len(self._sources) > 1 and self._sources[1].video else None
            if driver is not None and driver.frame_count > 0:
                count = min(count, driver.frame_count)
        return max(count, 1)

    def run(self) -> ConvertSummary:
        """Convert the whole input (or --frames) into the output; see the class. Ctrl-C and SIGTERM
        stop it at the next frame (interrupts.held_until_safe): the partial output is removed and
        KeyboardInterrupt raised. A stop that comes while the output is being finished lets it
        finish (with its sidecar) and is raised after."""
        with held_until_safe() as self._held:
            summary = self._run()
            if self._held.pending:   # delivered as the block ends, after this line
                log.warning("stopped as the output was being finished: %s is complete and kept, with its sidecar",
                            summary.output)
            return summary

    def _run(self) -> ConvertSummary:
        summary = ConvertSummary(str(self.input), str(self.output))
        self._sources: list[FrameSource] = []
        self.shots = 1
        started = time.perf_counter()
        self._writer = None
        bar = tqdm(total=None, unit="frame", disable=not self.progress, dynamic_ncols=True,
                   desc=self.input.name)
        items = _threaded(self._items(self.start, self.end), QUEUE_FRAMES)
        steadier = EdgeSteadier(self.settings, self.options.edge_steady)
        self._fit_window = FitWindow(self.fit_reach)
        around = steadier.reach + self.fit_reach   # rendered frames either side of the range written
        try:
            batch: list[FrameItem] = []
            for item in items:
                self._held.check()
                # frames just outside the range written are rendered too: the edge match's and the
                # expression fit's windows read them
                if self.write_range and not (self.write_range[0] - around <= item.index
                                             < self.write_range[1] + around):
                    continue
                batch.append(item)
                if len(batch) >= self.options.batch_size:
                    self._emit(self._blended(steadier, batch), summary, bar)
                    batch = []
            self._emit(self._blended(steadier, batch), summary, bar)
            self._emit(self._flushed(steadier), summary, bar)
            writer = self._writer
            if writer is None:
                raise FaceswapError(f"no frames to convert in {self.input}"
                                    + (f" within --frames {self.options.frames}" if self.options.frames else ""))
            if summary.swapped == 0 and self.write_range is None:
                raise NoFaceError(f"no face to change was found in {self.input}; nothing written")
            self._held.check()
            published = writer.close()  # a sequence's pattern when the output was a folder
            if self.signing is not None:
                self.record["credentials"] = sign_output(published, self.record, self.signing, self.input)
            from ..provenance import write_sidecar
            summary.sidecar = str(write_sidecar(published, {**self.record, "changed_tracks": summary.changed.runs}))
        except BaseException as err:
            if self._writer is not None:
                self._writer.abort()
            if isinstance(err, KeyboardInterrupt):
                log.warning("interrupted: the partial output was removed; %s is untouched", self.input)
            raise
        finally:
            bar.close()
            items.close()
            for backend in self._backends:
                backend.close()
        summary.seconds = time.perf_counter() - started
        summary.shots = self.shots
        summary.mostly_covered = self.covered.mostly
        if self._fit is not None and self._fit.skipped:
            log.info("expression fit: %d faces fitted to the footage's expression, %d blended as drawn (no face "
                     "found in the render)", self._fit.fitted, self._fit.skipped)
        if self.write_range is None:
            self.covered.warn(self.footage_side, self.model_dir.name)
        video = self._sources[0].video if self._sources else None
        summary.decode_warning = video.warning if video else None
        return summary

    def _blended(self, steadier: EdgeSteadier, batch: list[FrameItem]) -> Iterator[Rendered]:
        """Render `batch` and hand it to the edge match's window: the frames it has blended."""
        for rendered in self._render_batch(batch) if batch else ():
            for ready in self._fit_window.push(rendered):
                yield from steadier.push(self._lay_out(ready, self._fit_window))

    def _flushed(self, steadier: EdgeSteadier) -> Iterator[Rendered]:
        """The frames still in the expression fit's and the edge match's windows, blended."""
        for ready in self._fit_window.flush():
            yield from steadier.push(self._lay_out(ready, self._fit_window))
        yield from steadier.flush()

    def _emit(self, frames: Iterator[Rendered], summary: ConvertSummary, bar) -> None:
        """Write the blended `frames` that are in the range written."""
        written = sum(self._write(done, summary, bar) for done in frames)
        if written and self.on_frames is not None:
            self.on_frames(written)

    def _write(self, rendered: Rendered, summary: ConvertSummary, bar) -> int:
        """Write one blended frame (1), unless it is outside the range written (0)."""
        item, faces = rendered.item, rendered.faces
        if self.write_range and not self.write_range[0] <= item.index < self.write_range[1]:
            return 0
        writer = self._writer
        if writer is None:
            writer = self._writer = self._open_outputs(item)
            if bar.total is None and self._sources[0].video:
                total = len(self._sources[0]) - self.start
                bar.total = (min(total, self.end - self.start) if self.end else total)
        done = [(f, p) for f, p in faces if p is not None]
        summary.frames += 1
        summary.bridged += item.bridged
        if done:
            summary.swapped += 1
            summary.faces += len(done)
            summary.tracks.update(f.track for f, _ in done)
        else:
            summary.no_face.append(item.name)
        summary.changed.add(item.index, [f.track for f, _ in done])
        plate = item.extra.get(PLATE)
        marker = self.marker
        if marker is not None and (writer.keeps_patches or (marker.mode == "face" and plate is not None)):
            # faces laid over the input by their alpha (plates, patches) carry the mark themselves
            done = [(f, marker.face(p, item.image.shape)) for f, p in done]
        layers = [composite_plate(plate, p, self._sources[0].colour) if plate is not None else None
                  for _, p in done]
        if marker is not None and marker.mode == "frame":
            marker.frame(plate.pixels if plate is not None else item.image)
        elif marker is not None and plate is None and not writer.keeps_patches:
            for _, p in done:
                marker.face_into(item.image, p)
        # RGBA layers cost a copy of every face region: only for a writer that keeps them
        patches = [_patch(f, p, layer) for (f, p), layer in zip(done, layers)] if writer.keeps_patches else ()
        self._held.check()
        writer.write(item.image, item.index, name=item.name, patches=patches, plate=plate)
        bar.update(1)
        return 1

    @property
    def _preview_stem(self) -> Path:
        """Where --preview's PNGs go: STEM.preview-N.png beside the output (its name less its suffix)."""
        return self.output.with_suffix("") if self.output.suffix else self.output

    def preview(self, frame: int) -> ConvertSummary:
        """Convert one frame (with enough neighbours for smoothing) and write it and a
        side-by-side with the original as PNGs next to the output."""
        with held_until_safe() as self._held:
            return self._preview(frame)

    def _preview(self, frame: int) -> ConvertSummary:
        summary = ConvertSummary(str(self.input), str(self.output))
        self._sources = []
        self.shots = 1
        started = time.perf_counter()
        steadier = EdgeSteadier(self.settings, self.options.edge_steady)
        self._fit_window = FitWindow(self.fit_reach)
        around = steadier.reach + self.fit_reach
        margin = Stabilizer(self.options.smooth, self.options.bridge_gap).ahead + 2 * REACH + around
        stem = self._preview_stem
        found = original = None
        items = _threaded(self._items(max(0, frame - margin), frame + margin + 1), QUEUE_FRAMES)
        try:
            for item in items:
                self._held.check()
                if item.index == frame:
                    original = item.image.copy()
                # the frame and its neighbours in the edge match's and expression fit's windows are rendered
                blended = self._blended(steadier, [item]) if abs(item.index - frame) <= around else ()
                for done in blended:
                    if done.item.index == frame:
                        found = (original, done.item.image.copy(), [p for _, p in done.faces if p is not None])
            for done in self._flushed(steadier):
                if done.item.index == frame:
                    found = (original, done.item.image.copy(), [p for _, p in done.faces if p is not None])
        finally:
            items.close()
            for backend in self._backends:
                backend.close()
        if found is None:
            raise FaceswapError(f"frame {frame} is not in {self.input}")
        original, converted, done = found
        faces = len(done)
        out = Path(f"{stem}.preview-{frame}.png")
        side = Path(f"{stem}.preview-{frame}-compare.png")
        # a preview is an output too: tagged in its PNG text, watermarked, with its sidecar
        from ..provenance import build_record, container_tags, write_sidecar
        record = build_record({"input": self.input}, self.model_dir, self.options.to_dict(), self.options.mode,
                              self.plan.to_dict())
        marker = self._marker(record)
        if marker is not None and marker.mode == "frame":
            marker.frame(converted)
        for placed in done if marker is not None and marker.mode == "face" else ():
            marker.face_into(converted, placed)
        text = png_text(container_tags(record))
        write_png(out, converted, text)
        write_png(side, np.concatenate([original, converted], axis=1), text)
        write_sidecar(out, {**record, "preview_frame": frame})
        summary.frames, summary.swapped, summary.faces = 1, int(faces > 0), faces
        if not faces:
            summary.no_face.append(str(frame))
        summary.preview = [str(out), str(side)]
        summary.seconds = time.perf_counter() - started
        return summary


def plate_rate(plate: Plate | None) -> float | None:
    """The frame rate a plate's header states (EXR FramesPerSecond, DPX's frame rate), or None."""
    if plate is None:
        return None
    rate = plate.attribute("FramesPerSecond")
    if rate is not None and len(rate) == 2 and rate[1]:
        return rate[0] / rate[1]
    value = plate.attribute("dpx:FrameRate")
    return float(value) if value and float(value) > 0 else None


def _patch(face: Face, placed: Placed, layer: np.ndarray | None = None) -> Patch:
    """The face as it was composited, as an RGBA layer for writers that keep faces apart; `layer`:
    the same over a plate, in its own space (composite_plate)."""
    alpha = np.clip(placed.alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Patch(np.dstack([placed.rgb, alpha]), placed.x, placed.y, placed.matrix, face.track, layer)


def convert(input_path: str | Path, model_dir: str | Path, output: str | Path,
            options: ConvertOptions | None = None, progress: bool = True) -> ConvertSummary:
    """Convert `input_path` with the model in `model_dir` into `output` (or, with
    options.preview set, write just that frame as PNGs)."""
    converter = Converter(input_path, model_dir, output, options, progress)
    if converter.options.preview is not None:
        return converter.preview(converter.options.preview)
    return converter.run()


__all__ = ["ConvertSummary", "Converter", "convert"]
