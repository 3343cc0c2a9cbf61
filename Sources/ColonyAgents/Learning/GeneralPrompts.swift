/// Everyday requests with no tools involved: `colony learn` has the base model answer them
/// once, and the loss of each new version on those answers measures what learning the tasks
/// cost the model elsewhere (forgetting).
public enum GeneralPrompts {
    public static let all = [
        "Write a haiku about the sea.", "What is the capital of France?", "Give me three tips for sleeping better.",
        "Explain what a noun is in one sentence.", "Say hello in Spanish.", "What colour is the sky on a clear day?",
        "Name two fruits that are red.", "Describe a cat in one sentence.", "What do bees make?", "Suggest a name for a small dog.",
        "Why do we need water?", "What is a good breakfast?", "Tell me a short fun fact about the moon.",
        "How many days are in a week?", "What is the opposite of hot?", "Write one sentence about autumn.",
        "What is rain made of?", "Give a synonym for happy.", "What does a doctor do?", "Describe a tree in a few words.",
    ]
}
