public enum DevmeshIOModule {}
