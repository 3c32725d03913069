"""together"""
