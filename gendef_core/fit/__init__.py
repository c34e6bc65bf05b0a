"""`gendef fit`: decompose a user's own video into a canonical image and per-frame deformation."""
