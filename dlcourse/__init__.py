"""dlcourse: the small numpy package behind the course "Deep learning from scratch".

Each module teaches one concept and names the lesson that introduces it.
"""

from dlcourse.config import quick_mode, seed_everything, sized

__version__ = "0.1.0"
__all__ = ["quick_mode", "seed_everything", "sized"]
