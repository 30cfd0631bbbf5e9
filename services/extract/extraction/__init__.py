"""Extraction core: Chinese news article in, medical-alliance events out."""

from .api import EXTRACTOR_VERSION, ArticleInput, ExtractionResult, extract

__all__ = ["EXTRACTOR_VERSION", "ArticleInput", "ExtractionResult", "extract"]
