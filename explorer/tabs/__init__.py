"""The page's tabs, one module each, in page order (their ids are deep_links.TABS)."""
from .checkpoint import CheckpointTab
from .compare import CompareTab
from .interpolate import InterpolateTab
from .latent_map import LatentMapTab
from .lessons import LessonsTab
from .likelihood import LikelihoodTab
from .manifold import ManifoldTab
from .reconstructions import ReconstructionsTab
from .sample import SampleTab
from .sliders import SlidersTab
from .timeline import TimelineTab
from .train import TrainTab
from .traversals import TraversalsTab

TAB_CLASSES = (ReconstructionsTab, SampleTab, SlidersTab, TraversalsTab, LatentMapTab, ManifoldTab, InterpolateTab,
               LikelihoodTab, TimelineTab, CompareTab, LessonsTab, TrainTab, CheckpointTab)


def make_tabs(ctx) -> list:
    """One of each tab, given the page's context (explorer/context.py)."""
    return [tab(ctx) for tab in TAB_CLASSES]
