import ColonyModels
print("colony")
