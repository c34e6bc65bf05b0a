"""The application commands (sample, resample, edit, track, segment, flow); re-exported by gendef_core.api."""
