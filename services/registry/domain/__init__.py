"""The registry's pure logic: institution names and resolution, alliance identity."""
